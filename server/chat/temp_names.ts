/**
 * Friendly temporary names ("Panda 42") that read well in Spanish and
 * English alike.
 */

const ANIMALS = [
  "Alpaca",
  "Ardilla",
  "Búho",
  "Castor",
  "Cóndor",
  "Coyote",
  "Delfín",
  "Gacela",
  "Jaguar",
  "Koala",
  "Lince",
  "Llama",
  "Lobo",
  "Nutria",
  "Ocelote",
  "Panda",
  "Pingüino",
  "Puma",
  "Quetzal",
  "Tapir",
  "Tucán",
  "Vicuña",
  "Yak",
  "Zorro",
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
  // A crowded room: widen the number range until something is free.
  for (let digits = 1_000;; digits *= 10) {
    const name = `Invitado ${digits + pick(digits * 9)}`;
    if (isFree(name)) return name;
  }
}
