/**
 * Unit tests for the wire protocol: client frame parsing and validation,
 * chat text rules, room names and server frame parsing.
 */

import assert from "node:assert/strict";
import {
  checkText,
  type ErrorCode,
  isPrivateRoomName,
  MAX_CLIENT_ID_CHARS,
  MAX_FRAME_BYTES,
  MAX_ROOM_CHARS,
  MAX_TEXT_CHARS,
  normalizeRoomName,
  parseClientMessage,
  parseServerFrame,
  parseServerMessage,
  privateRoomName,
  ProtocolError,
  type ServerMessage,
  topLevelKeys,
} from "./messages.ts";

/** Asserts that `run` throws a `ProtocolError` with exactly `code`. */
function assertProtocolError(
  run: () => unknown,
  code: ErrorCode,
  label: string,
): void {
  assert.throws(
    run,
    (error: unknown) => {
      assert.ok(
        error instanceof ProtocolError,
        `${label}: expected a ProtocolError, got ${error}`,
      );
      assert.equal(error.code, code, `${label}: error code`);
      return true;
    },
    `${label}: expected a ProtocolError ${code}`,
  );
}

function assertFrameRefused(frame: string, code: ErrorCode): void {
  assertProtocolError(
    () => parseClientMessage(frame),
    code,
    JSON.stringify([...frame].slice(0, 60).join("")),
  );
}

// ---------------------------------------------------------------------------
// parseClientMessage: valid messages.
// ---------------------------------------------------------------------------

Deno.test("parseClientMessage accepts a minimal hello", () => {
  assert.deepEqual(parseClientMessage('{"type":"hello","room":"main"}'), {
    type: "hello",
    room: "main",
  });
});

Deno.test("parseClientMessage accepts a hello that resumes with token, lastSeq and epoch", () => {
  const frame = JSON.stringify({
    type: "hello",
    room: "main",
    resumeToken: "ab".repeat(32),
    lastSeq: 17,
    epoch: "e-1",
  });
  assert.deepEqual(parseClientMessage(frame), {
    type: "hello",
    room: "main",
    resumeToken: "ab".repeat(32),
    lastSeq: 17,
    epoch: "e-1",
  });
  assert.deepEqual(
    parseClientMessage('{"type":"hello","room":"main","lastSeq":0}'),
    { type: "hello", room: "main", lastSeq: 0 },
  );
});

Deno.test("parseClientMessage accepts a send and normalises its text", () => {
  assert.deepEqual(
    parseClientMessage('{"type":"send","id":"m1","text":"hola"}'),
    { type: "send", id: "m1", text: "hola" },
  );
  assert.deepEqual(
    parseClientMessage(
      JSON.stringify({ type: "send", id: "m2", text: "a\r\nb\u0007" }),
    ),
    { type: "send", id: "m2", text: "a\nb" },
  );
});

Deno.test("parseClientMessage accepts a rename and leaves name rules to the core", () => {
  assert.deepEqual(
    parseClientMessage('{"type":"rename","name":"  Ana  "}'),
    { type: "rename", name: "  Ana  " },
  );
});

Deno.test("parseClientMessage accepts typing", () => {
  assert.deepEqual(parseClientMessage('{"type":"typing"}'), {
    type: "typing",
  });
});

Deno.test("parseClientMessage ignores key order and surrounding whitespace", () => {
  assert.deepEqual(
    parseClientMessage(' \n{ "text": "hi", "id": "x", "type": "send" }\n '),
    { type: "send", id: "x", text: "hi" },
  );
});

Deno.test("parseClientMessage accepts a send id of exactly 64 characters", () => {
  const id = "i".repeat(MAX_CLIENT_ID_CHARS);
  assert.deepEqual(
    parseClientMessage(JSON.stringify({ type: "send", id, text: "x" })),
    { type: "send", id, text: "x" },
  );
});

// ---------------------------------------------------------------------------
// parseClientMessage: invalid shapes.
// ---------------------------------------------------------------------------

Deno.test("parseClientMessage refuses text that is not JSON as bad_json", () => {
  for (
    const frame of [
      "",
      "{",
      "hello",
      "{'type':'typing'}",
      "undefined",
      '{"type":"typing",}',
      "NaN",
    ]
  ) {
    assertFrameRefused(frame, "bad_json");
  }
});

Deno.test("parseClientMessage refuses JSON that is not an object as bad_message", () => {
  for (
    const frame of [
      "null",
      "[]",
      '[{"type":"typing"}]',
      "42",
      "-1.5",
      '"typing"',
      "true",
    ]
  ) {
    assertFrameRefused(frame, "bad_message");
  }
});

Deno.test("parseClientMessage refuses an object without a type as bad_message", () => {
  assertFrameRefused("{}", "bad_message");
  assertFrameRefused('{"room":"main"}', "bad_message");
});

Deno.test("parseClientMessage refuses unknown and inherited type names as unknown_type", () => {
  for (
    const type of [
      "shout",
      "HELLO",
      "Hello",
      "",
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "welcome",
    ]
  ) {
    assertFrameRefused(JSON.stringify({ type }), "unknown_type");
  }
});

Deno.test("parseClientMessage refuses a type that is not a string", () => {
  for (const type of [42, null, true, {}, ["hello"]]) {
    assertFrameRefused(JSON.stringify({ type }), "unknown_type");
  }
});

Deno.test("parseClientMessage refuses fields of the wrong type as bad_message", () => {
  for (
    const message of [
      { type: "hello" },
      { type: "hello", room: 42 },
      { type: "hello", room: null },
      { type: "hello", room: ["main"] },
      { type: "hello", room: "main", resumeToken: 1 },
      { type: "hello", room: "main", resumeToken: null },
      { type: "hello", room: "main", epoch: 7 },
      { type: "hello", room: "main", lastSeq: "3" },
      { type: "hello", room: "main", lastSeq: null },
      { type: "hello", room: "main", lastSeq: true },
      { type: "send", text: "hi" },
      { type: "send", id: "m1" },
      { type: "send", id: 1, text: "hi" },
      { type: "send", id: "m1", text: 1 },
      { type: "send", id: "m1", text: null },
      { type: "send", id: "m1", text: ["hi"] },
      { type: "send", id: "m1", text: { toString: "hi" } },
      { type: "rename" },
      { type: "rename", name: 1 },
      { type: "rename", name: null },
    ]
  ) {
    assertFrameRefused(JSON.stringify(message), "bad_message");
  }
});

Deno.test("parseClientMessage refuses extra fields as bad_message", () => {
  for (
    const message of [
      { type: "typing", x: 1 },
      { type: "hello", room: "main", admin: true },
      { type: "send", id: "m1", text: "hi", seq: 1 },
      { type: "send", id: "m1", text: "hi", from: { id: "u", name: "n" } },
      { type: "rename", name: "Ana", id: "someone-else" },
    ]
  ) {
    assertFrameRefused(JSON.stringify(message), "bad_message");
  }
});

Deno.test("parseClientMessage refuses __proto__ and constructor keys and leaves Object.prototype untouched", () => {
  for (
    const frame of [
      '{"type":"typing","__proto__":{"polluted":true}}',
      '{"type":"hello","room":"main","__proto__":{"polluted":true}}',
      '{"__proto__":{"polluted":true},"type":"send","id":"m","text":"x"}',
      '{"type":"typing","constructor":{"prototype":{"polluted":true}}}',
      '{"type":"rename","name":"Ana","prototype":{"polluted":true}}',
    ]
  ) {
    assertFrameRefused(frame, "bad_message");
  }
  assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);
  const fresh: Record<string, unknown> = {};
  assert.equal(fresh["polluted"], undefined);
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
});

Deno.test("parseClientMessage refuses lone surrogates in any string field", () => {
  for (
    const frame of [
      '{"type":"send","id":"m1","text":"a\\ud800b"}',
      '{"type":"send","id":"m1","text":"\\udc00"}',
      '{"type":"send","id":"\\ud83d","text":"hi"}',
      '{"type":"hello","room":"ma\\udfffin"}',
      '{"type":"hello","room":"main","epoch":"\\ud800"}',
      '{"type":"hello","room":"main","resumeToken":"\\udbff"}',
      '{"type":"rename","name":"Ana\\ud800"}',
      '{"type":"send","id":"m1","text":"\\ude00\\ud83d"}',
    ]
  ) {
    assertFrameRefused(frame, "bad_message");
  }
  // A correctly paired surrogate is an ordinary emoji.
  assert.deepEqual(
    parseClientMessage('{"type":"send","id":"m1","text":"\\ud83d\\ude00"}'),
    { type: "send", id: "m1", text: "😀" },
  );
});

Deno.test("parseClientMessage refuses a negative, fractional or unsafe lastSeq", () => {
  for (
    const lastSeq of ["-1", "1.5", "0.1", "1e400", "9007199254740992", "-0.5"]
  ) {
    assertFrameRefused(
      `{"type":"hello","room":"main","lastSeq":${lastSeq}}`,
      "bad_message",
    );
  }
});

Deno.test("parseClientMessage refuses an empty send id", () => {
  assertFrameRefused('{"type":"send","id":"","text":"hi"}', "bad_message");
});

Deno.test("parseClientMessage refuses a send id over 64 characters", () => {
  const id = "i".repeat(MAX_CLIENT_ID_CHARS + 1);
  assertFrameRefused(
    JSON.stringify({ type: "send", id, text: "hi" }),
    "bad_message",
  );
  assertFrameRefused(
    JSON.stringify({ type: "send", id: "i".repeat(1000), text: "hi" }),
    "bad_message",
  );
});

Deno.test("parseClientMessage checks frame size before parsing", () => {
  // Not JSON at all, yet the answer is about size: nothing was parsed.
  assertFrameRefused("x".repeat(MAX_FRAME_BYTES + 1), "frame_too_large");
  const padded = '{"type":"typing"}'.padEnd(MAX_FRAME_BYTES + 1, " ");
  assertFrameRefused(padded, "frame_too_large");
  // Exactly at the limit is parsed.
  const atLimit = '{"type":"typing"}'.padEnd(MAX_FRAME_BYTES, " ");
  assert.deepEqual(parseClientMessage(atLimit), { type: "typing" });
});

Deno.test("parseClientMessage answers a 10^5-deep nested array with an error, not a stack overflow", () => {
  const depth = 100_000;
  assertFrameRefused("[".repeat(depth) + "]".repeat(depth), "frame_too_large");
});

Deno.test("parseClientMessage answers a deep nested array that fits in a frame with bad_message", () => {
  const depth = Math.floor(MAX_FRAME_BYTES / 2) - 1;
  assertFrameRefused("[".repeat(depth) + "]".repeat(depth), "bad_message");
  assertFrameRefused(
    '{"type":"typing","x":' + "[".repeat(depth - 20) +
      "]".repeat(depth - 20) + "}",
    "bad_message",
  );
  assertFrameRefused(
    '{"type":"hello","room":' + "[".repeat(depth - 20) +
      "]".repeat(depth - 20) + "}",
    "bad_message",
  );
});

Deno.test("parseClientMessage answers a deeply nested array as the type with a ProtocolError", () => {
  // About 6 KB, well under MAX_FRAME_BYTES.
  const depth = 3_000;
  const frame = '{"type":' + "[".repeat(depth) + "]".repeat(depth) + "}";
  assert.ok(frame.length < MAX_FRAME_BYTES);
  assertFrameRefused(frame, "unknown_type");
});

Deno.test("a send whose text is over the limit is refused as text_too_long whether letters or emoji", () => {
  assertFrameRefused(
    JSON.stringify({
      type: "send",
      id: "m1",
      text: "a".repeat(MAX_TEXT_CHARS + 1),
    }),
    "text_too_long",
  );
  assertFrameRefused(
    JSON.stringify({
      type: "send",
      id: "m1",
      text: "😀".repeat(MAX_TEXT_CHARS + 1),
    }),
    "text_too_long",
  );
});

Deno.test("a send of exactly 4000 emoji is accepted", () => {
  const text = "😀".repeat(MAX_TEXT_CHARS);
  assert.deepEqual(
    parseClientMessage(JSON.stringify({ type: "send", id: "m1", text })),
    { type: "send", id: "m1", text },
  );
});

Deno.test("a send with empty or whitespace-only text is refused as text_empty", () => {
  for (const text of ["", "   ", "\n\t", "\u0001"]) {
    assertFrameRefused(
      JSON.stringify({ type: "send", id: "m1", text }),
      "text_empty",
    );
  }
});

// ---------------------------------------------------------------------------
// checkText.
// ---------------------------------------------------------------------------

Deno.test("checkText turns CRLF and lone CR into LF", () => {
  assert.equal(checkText("a\r\nb"), "a\nb");
  assert.equal(checkText("a\rb"), "a\nb");
  assert.equal(checkText("a\r\r\nb"), "a\n\nb");
  assert.equal(checkText("a\n\rb"), "a\n\nb");
});

Deno.test("checkText strips C0 and C1 control characters and DEL", () => {
  assert.equal(checkText("a\u0000b\u0007c\u001Bd"), "abcd");
  assert.equal(checkText("a\u000Bb\u000Cc"), "abc");
  assert.equal(checkText("a\u007Fb"), "ab");
  assert.equal(checkText("a\u0080b\u0085c\u009Fd"), "abcd");
  assert.equal(checkText("\u001B[31mred\u001B[0m"), "[31mred[0m");
});

Deno.test("checkText keeps tabs, newlines and ordinary Unicode", () => {
  assert.equal(checkText("a\tb\nc"), "a\tb\nc");
  assert.equal(checkText("  hola  "), "  hola  ");
  assert.equal(checkText("¿Qué tal? 😀 ñ"), "¿Qué tal? 😀 ñ");
  assert.equal(checkText("\u00A0x"), "\u00A0x");
});

Deno.test("checkText refuses empty and whitespace-only text as text_empty", () => {
  for (
    const text of ["", " ", "   ", "\n", "\t\t", "\r\n", " \n \t ", "\u3000"]
  ) {
    assertProtocolError(
      () => checkText(text),
      "text_empty",
      JSON.stringify(text),
    );
  }
});

Deno.test("checkText refuses text that is empty once control characters are stripped", () => {
  assertProtocolError(() => checkText("\u0000\u0001"), "text_empty", "C0");
  assertProtocolError(() => checkText(" \u0085 "), "text_empty", "C1");
});

Deno.test("checkText allows exactly 4000 code points, counting an emoji as one", () => {
  const letters = "a".repeat(MAX_TEXT_CHARS);
  assert.equal(checkText(letters), letters);
  const emoji = "😀".repeat(MAX_TEXT_CHARS);
  assert.equal(emoji.length, 8000);
  assert.equal(checkText(emoji), emoji);
  const mixed = "😀ñ".repeat(MAX_TEXT_CHARS / 2);
  assert.equal(checkText(mixed), mixed);
});

Deno.test("checkText refuses 4001 code points as text_too_long", () => {
  assertProtocolError(
    () => checkText("a".repeat(MAX_TEXT_CHARS + 1)),
    "text_too_long",
    "4001 letters",
  );
  assertProtocolError(
    () => checkText("😀".repeat(MAX_TEXT_CHARS + 1)),
    "text_too_long",
    "4001 emoji",
  );
});

Deno.test("checkText measures length after CRLF folding and control stripping", () => {
  // 6000 code points in, 4000 out.
  const crlf = "a\r\n".repeat(MAX_TEXT_CHARS / 2);
  assert.equal(checkText(crlf), "a\n".repeat(MAX_TEXT_CHARS / 2));
  const withControls = "a".repeat(MAX_TEXT_CHARS) + "\u0000".repeat(10);
  assert.equal(checkText(withControls), "a".repeat(MAX_TEXT_CHARS));
});

// ---------------------------------------------------------------------------
// normalizeRoomName.
// ---------------------------------------------------------------------------

Deno.test("normalizeRoomName lower-cases, trims and applies NFKC", () => {
  assert.equal(normalizeRoomName("Main"), "main");
  assert.equal(normalizeRoomName("  lobby  "), "lobby");
  assert.equal(normalizeRoomName("ＭＡＩＮ"), "main");
  assert.equal(normalizeRoomName("ÑANDÚ"), "ñandú");
  assert.equal(normalizeRoomName("cafe\u0301"), "café");
});

Deno.test("normalizeRoomName accepts letters, digits, hyphen and underscore up to 40 characters", () => {
  for (
    const room of ["main", "sala-1_b", "1abc", "大厅", "x", "a".repeat(40)]
  ) {
    assert.equal(normalizeRoomName(room), room);
  }
  assert.equal(normalizeRoomName("ñ".repeat(MAX_ROOM_CHARS)), "ñ".repeat(40));
});

Deno.test("normalizeRoomName refuses empty, badly started, too long or symbol-laden names", () => {
  for (
    const raw of [
      "",
      "   ",
      "-main",
      "_main",
      "a b",
      "a/b",
      "a.b",
      "../etc",
      "main😀",
      "<script>",
      "a".repeat(MAX_ROOM_CHARS + 1),
      "main\u200B",
      "\u202Emain",
      "ma\u0000in",
    ]
  ) {
    assertProtocolError(
      () => normalizeRoomName(raw),
      "room_invalid",
      JSON.stringify(raw),
    );
  }
});

// ---------------------------------------------------------------------------
// parseServerMessage.
// ---------------------------------------------------------------------------

const ANA = { id: "u1", name: "Ana" };
const CHAT = { seq: 1, time: 1000, from: ANA, clientId: "m1", text: "hola" };

Deno.test("parseServerMessage returns a typed value for every well-formed server message", () => {
  const messages: ServerMessage[] = [
    {
      type: "welcome",
      protocol: 2,
      room: "main",
      epoch: "e1",
      you: ANA,
      resumeToken: "t".repeat(64),
      resumed: false,
      recovered: false,
      history: [CHAT],
      members: [ANA],
      moreHistory: false,
      moreMembers: false,
      typingTimeoutMs: 6000,
    },
    { type: "chat", message: CHAT },
    { type: "ack", id: "m1", seq: 1, time: 1000 },
    { type: "joined", member: ANA },
    { type: "left", member: ANA },
    { type: "typing", member: ANA },
    { type: "renamed", id: "u1", from: "Panda 42", to: "Ana" },
    { type: "error", code: "name_taken", message: "Name is taken" },
    {
      type: "error",
      code: "rate_limited",
      message: "Slow down",
      ref: "m1",
      retryAfterMs: 500,
    },
  ];
  for (const message of messages) {
    assert.deepEqual(parseServerMessage(JSON.stringify(message)), message);
  }
});

Deno.test("parseServerMessage drops unknown fields and wrongly typed optional error fields", () => {
  assert.deepEqual(
    parseServerMessage(
      JSON.stringify({ type: "ack", id: "m1", seq: 1, time: 2, extra: true }),
    ),
    { type: "ack", id: "m1", seq: 1, time: 2 },
  );
  assert.deepEqual(
    parseServerMessage(
      JSON.stringify({
        type: "error",
        code: "bad_json",
        message: "x",
        ref: 5,
        retryAfterMs: "soon",
      }),
    ),
    { type: "error", code: "bad_json", message: "x" },
  );
});

Deno.test("parseServerMessage returns null for malformed server frames", () => {
  const welcome = {
    type: "welcome",
    protocol: 2,
    room: "main",
    epoch: "e1",
    you: ANA,
    resumeToken: "t",
    resumed: false,
    recovered: false,
    history: [],
    members: [],
    moreHistory: false,
    moreMembers: false,
    typingTimeoutMs: 6000,
  };
  const frames: string[] = [
    "",
    "not json",
    "null",
    "[]",
    "42",
    '"chat"',
    "{}",
    '{"type":1}',
    '{"type":"nope"}',
    '{"type":"hello","room":"main"}',
    '{"type":"__proto__"}',
    JSON.stringify({ type: "chat" }),
    JSON.stringify({ type: "chat", message: { ...CHAT, seq: "1" } }),
    JSON.stringify({ type: "chat", message: { ...CHAT, from: "Ana" } }),
    JSON.stringify({ type: "chat", message: [CHAT] }),
    JSON.stringify({ type: "ack", id: 1, seq: 1, time: 1 }),
    JSON.stringify({ type: "ack", id: "m1", seq: 1 }),
    JSON.stringify({ type: "joined", member: { id: "u1" } }),
    JSON.stringify({ type: "left", member: null }),
    JSON.stringify({ type: "typing" }),
    JSON.stringify({ type: "renamed", id: "u1", from: "a" }),
    JSON.stringify({ type: "error", code: "teapot", message: "x" }),
    JSON.stringify({ type: "error", code: "bad_json", message: 5 }),
    JSON.stringify({ type: "error", code: "toString", message: "x" }),
    JSON.stringify({ ...welcome, typingTimeoutMs: undefined }),
    JSON.stringify({ ...welcome, resumed: "false" }),
    JSON.stringify({ ...welcome, you: { name: "Ana" } }),
    JSON.stringify({ ...welcome, history: [{ ...CHAT, text: 1 }] }),
    JSON.stringify({ ...welcome, members: "Ana" }),
    JSON.stringify({ ...welcome, members: [ANA, null] }),
    JSON.stringify({ ...welcome, moreMembers: "yes" }),
    JSON.stringify({ type: "members", members: [ANA] }),
    JSON.stringify({ type: "members", members: [{ id: 1 }], more: false }),
  ];
  for (const frame of frames) {
    assert.equal(parseServerMessage(frame), null, frame);
  }
});

Deno.test("parseServerFrame unwraps a batch and skips items it does not know", () => {
  const member = { id: "u1", name: "Ana" };
  const frame = JSON.stringify({
    type: "batch",
    messages: [
      { type: "typing", member },
      { type: "from-the-future", x: 1 },
      { type: "members", members: [member], more: false },
      { type: "left", member },
    ],
  });
  assert.deepEqual(parseServerFrame(frame)?.map((m) => m.type), [
    "typing",
    "left",
  ]);
  assert.deepEqual(parseServerFrame(JSON.stringify({ type: "left", member })), [
    { type: "left", member },
  ]);
  assert.deepEqual(
    parseServerFrame(
      JSON.stringify({ type: "members", members: [member], more: true }),
    ),
    [{ type: "members", members: [member], more: true }],
  );
  assert.deepEqual(
    parseServerFrame(
      JSON.stringify({ type: "history", messages: [CHAT], more: false }),
    ),
    [{ type: "history", messages: [CHAT], more: false }],
  );
  assert.equal(
    parseServerFrame(JSON.stringify({ type: "history", messages: [CHAT] })),
    null,
  );
  assert.equal(parseServerFrame("{"), null);
  assert.equal(parseServerFrame('{"type":"batch","messages":3}'), null);
});

Deno.test("a members request carries a non-negative integer cursor and nothing else", () => {
  assert.deepEqual(parseClientMessage('{"type":"members","after":20}'), {
    type: "members",
    after: 20,
  });
  for (
    const bad of [
      '{"type":"members"}',
      '{"type":"members","after":-1}',
      '{"type":"members","after":1.5}',
      '{"type":"members","after":"20"}',
      '{"type":"members","after":20,"limit":1000}',
    ]
  ) {
    assert.throws(
      () => parseClientMessage(bad),
      (error: unknown) =>
        error instanceof ProtocolError && error.code === "bad_message",
      bad,
    );
  }
});

Deno.test("a frame that repeats a key is refused, naming the key", () => {
  for (
    const [frame, key] of [
      ['{"type":"rename","type":"send","id":"x","text":"hi"}', "type"],
      ['{"type":"send","id":"a","text":"one","text":"two"}', "text"],
      ['{"type":"send","id":"a","\\u0069d":"b","text":"t"}', "id"],
    ] as const
  ) {
    assert.throws(
      () => parseClientMessage(frame),
      (error: unknown) =>
        error instanceof ProtocolError && error.code === "bad_message" &&
        error.message.includes(`"${key}" appears more than once`),
      frame,
    );
  }
  // Keys inside strings and nested values are not the message's keys.
  assert.equal(
    topLevelKeys('{"a":"\\"b\\":1,","c":{"a":1,"a":2},"d":[{"e":1}]}'),
    3,
  );
  assert.deepEqual(
    parseClientMessage('{"type":"send","id":"a","text":"{\\"type\\":1}"}'),
    { type: "send", id: "a", text: '{"type":1}' },
  );
});

Deno.test("private room names carry 100 random bits and are valid room names", () => {
  const name = privateRoomName(new Uint8Array(13).fill(255));
  assert.equal(name, "p-77777777777777777777");
  const random = privateRoomName(crypto.getRandomValues(new Uint8Array(13)));
  assert.ok(isPrivateRoomName(random), random);
  assert.equal(normalizeRoomName(random), random);
  assert.equal(isPrivateRoomName("clase-3b"), false);
  assert.equal(isPrivateRoomName("p-short"), false);
  assert.throws(() => privateRoomName(new Uint8Array(12)), RangeError);
});
