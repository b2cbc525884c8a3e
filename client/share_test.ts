import assert from "node:assert/strict";
import { qrMatrix, shareAddress } from "./share.ts";

Deno.test("a page opened on localhost is shared by the LAN address the server knows", () => {
  const local = {
    origin: "http://localhost:8765",
    hostname: "localhost",
    pathname: "/r/clase-3b",
  };
  assert.equal(
    shareAddress(local, ["http://192.168.1.20:8765"]),
    "http://192.168.1.20:8765/r/clase-3b",
  );
  assert.equal(shareAddress(local, []), "http://localhost:8765/r/clase-3b");
  const remote = {
    origin: "https://chat.example.org",
    hostname: "chat.example.org",
    pathname: "/r/x",
  };
  assert.equal(
    shareAddress(remote, ["http://10.0.0.2:8765"]),
    "https://chat.example.org/r/x",
  );
});

Deno.test("a QR matrix is square with the three finder patterns", () => {
  const m = qrMatrix("http://192.168.1.20:8765/r/clase-3b");
  const n = m.length;
  assert.ok(n >= 21 && m.every((row) => row.length === n));
  for (const [r, c] of [[0, 0], [0, n - 7], [n - 7, 0]] as const) {
    // A finder's outer ring is dark, the ring inside it light.
    assert.equal(m[r]![c], true);
    assert.equal(m[r + 1]![c + 1], false);
    assert.equal(m[r + 3]![c + 3], true);
  }
});
