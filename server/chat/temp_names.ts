/**
 * Friendly temporary names ("Panda 42") that read well in Spanish and
 * English alike.
 */

/**
 * Animals whose name is the same word in Spanish and English (an accent
 * apart), so a temporary name reads naturally to everyone in the room.
 */
export const ANIMALS = [
  "Alpaca",
  "Anaconda",
  "Chinchilla",
  "Cobra",
  "Cóndor",
  "Coyote",
  "Dingo",
  "Iguana",
  "Jaguar",
  "Kiwi",
  "Koala",
  "Llama",
  "Mamba",
  "Okapi",
  "Orca",
  "Panda",
  "Puma",
  "Quetzal",
  "Tapir",
  "Vicuña",
  "Yak",
];

/**
 * Returns a temporary name for which `isFree` is true. `random` returns a
 * float in [0, 1) so tests can make the choice deterministic.
 */
export function pickTemporaryName(
  isFree: (name: string) => boolean,
  random: () => number = Math.random,
): string {
  const pick = (max: number) => Math.floor(random() * max);
  for (let attempt = 0; attempt < 50; attempt++) {
    const animal = ANIMALS[pick(ANIMALS.length)] ?? "Panda";
    const name = `${animal} ${10 + pick(90)}`;
    if (isFree(name)) return name;
  }
  // A crowded room: widen the number range until something is free (the
  // same animals: a word in one language only would read as foreign).
  for (let digits = 100;; digits *= 10) {
    const animal = ANIMALS[pick(ANIMALS.length)] ?? "Panda";
    const name = `${animal} ${digits + pick(digits * 9)}`;
    if (isFree(name)) return name;
  }
}
