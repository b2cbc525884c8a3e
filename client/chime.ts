/** The mention chime: browser-only (Web Audio), kept apart from tests. */

/** A short two-tone chime, made on the spot (no file to fetch). */
export function chime(): void {
  try {
    const AudioContextClass = globalThis.AudioContext;
    if (!AudioContextClass) return;
    const audio = new AudioContextClass();
    const gain = audio.createGain();
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
    gain.connect(audio.destination);
    for (const [frequency, start] of [[880, 0], [1320, 0.12]] as const) {
      const tone = audio.createOscillator();
      tone.frequency.value = frequency;
      tone.connect(gain);
      tone.start(audio.currentTime + start);
      tone.stop(audio.currentTime + start + 0.2);
    }
    setTimeout(() => void audio.close(), 600);
  } catch {
    // Audio blocked until the page is interacted with: the title still says.
  }
}
