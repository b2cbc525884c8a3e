import assert from "node:assert/strict";
import { nameSkeleton, normalizeName } from "../../protocol/names.ts";
import { ANIMALS, pickTemporaryName } from "./temp_names.ts";

Deno.test("temporary names are an animal and a number, valid names, distinct by skeleton", () => {
  const skeletons = new Set(ANIMALS.map(nameSkeleton));
  assert.equal(skeletons.size, ANIMALS.length, "no two animals look alike");
  let seed = 1;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 200; i++) {
    const name = pickTemporaryName(() => true, random);
    assert.match(name, /^\p{L}+ \d{2}$/u);
    assert.equal(normalizeName(name), name);
  }
});

Deno.test("a crowded room gets longer numbers, never a word in one language only", () => {
  const taken = new Set<string>();
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  // Everything with two digits is taken.
  const isFree = (name: string) => !/ \d{2}$/.test(name) && !taken.has(name);
  for (let i = 0; i < 50; i++) {
    const name = pickTemporaryName(isFree, random);
    assert.match(name, /^\p{L}+ \d{3,}$/u);
    assert.ok(ANIMALS.includes(name.split(" ")[0]!), name);
    taken.add(name);
  }
});
