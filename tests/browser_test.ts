/**
 * Browser tests: the real page in Debian's Chromium against a real server
 * (in-process on port 0, or server.ts as a child process for the restart).
 * Run `deno task build` first so the page is the current client.
 */

import assert from "node:assert/strict";
import {
  browserTest,
  ENGLISH,
  gotoChat,
  ownName,
  type Page,
  recordCspViolations,
  rename,
  send,
  snapshot,
  SPANISH,
  waitFor,
  waitForConnection,
  waitForMessage,
  waitForNotice,
} from "./browser.ts";
import { startServer, TestClient } from "./helpers.ts";
import { type ChatProcess, serverCommand, spawnChat } from "./process.ts";

const OUTPUT_DIR = new URL("./output/", import.meta.url);

browserTest(
  "two pages in one room chat both ways, in the same order, and see each other join and type",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const url = `${server.url}/r/lobby`;
    const ana = await t.openChat(url, ENGLISH);
    const bea = await t.openChat(url, ENGLISH);
    const anaName = await ownName(ana);
    const beaName = await ownName(bea);
    await waitForNotice(ana, `${beaName} joined`);

    const anaInput = ana.locator("#composer-input");
    await anaInput.pressSequentially("Hola, ¿qué tal?");
    await waitFor(
      bea,
      "the typing indicator",
      (shown) => shown.typing === `${anaName} is typing…`,
    );
    await anaInput.press("Enter");
    await waitForMessage(bea, "Hola, ¿qué tal?");
    assert.equal(await anaInput.inputValue(), "", "the composer is emptied");

    const beaInput = bea.locator("#composer-input");
    await beaInput.pressSequentially("Bien, ¿y tú?");
    await beaInput.press("Enter");
    await waitForMessage(bea, "Bien, ¿y tú?");
    const onAna = (await waitForMessage(ana, "Bien, ¿y tú?")).messages;
    const onBea = (await snapshot(bea)).messages;

    const rows = (list: typeof onAna) =>
      list.map((m) => [m.seq, m.author, m.text]);
    assert.deepEqual(rows(onAna), rows(onBea), "same messages, same order");
    assert.deepEqual(onAna.map((m) => [m.author, m.text]), [
      [anaName, "Hola, ¿qué tal?"],
      [beaName, "Bien, ¿y tú?"],
    ]);
    assert.deepEqual(onAna.map((m) => m.own), [true, false]);
    assert.deepEqual(onBea.map((m) => m.own), [false, true]);
    assert.ok(
      [...onAna, ...onBea].every((m) => !m.pending && !m.failed),
      "nothing is left pending",
    );
    assert.deepEqual(
      (await snapshot(bea)).notices,
      ["This is the start of the room.", "Today"],
      "no notice about oneself (only the start of this new room, and its day)",
    );
  },
);

browserTest(
  "typing the next message right after sending one shows the typing line again at once",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const url = `${server.url}/r/typing`;
    const ana = await t.openChat(url, ENGLISH);
    const bea = await t.openChat(url, ENGLISH);
    const typingLine = `${await ownName(ana)} is typing…`;
    const input = ana.locator("#composer-input");

    await input.pressSequentially("first");
    await waitFor(bea, "the typing line", (s) => s.typing === typingLine);
    await input.press("Enter");
    const shown = await waitForMessage(bea, "first");
    assert.equal(shown.typing, "", "the message clears the typing line");

    // The client resets its own throttle on send so this notice goes out
    // at once; a reader should see it well before the 3 s resend interval.
    await input.pressSequentially("second");
    await waitFor(
      bea,
      "the typing line for the next message",
      (s) => s.typing === typingLine,
      1500,
    );
  },
);

browserTest(
  "Enter sends the message and Shift+Enter starts a new line",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const page = await t.openChat(server.url, ENGLISH);
    const input = page.locator("#composer-input");
    await input.pressSequentially("first line");
    await input.press("Shift+Enter");
    await input.pressSequentially("second line");
    assert.equal(await input.inputValue(), "first line\nsecond line");
    assert.deepEqual((await snapshot(page)).messages, [], "nothing sent yet");

    await input.press("Enter");
    const shown = await waitForMessage(page, "first line\nsecond line");
    assert.equal(await input.inputValue(), "");
    assert.equal(
      shown.focused,
      "composer-input",
      "focus stays in the composer",
    );
  },
);

browserTest(
  "rename via the top-right button tells the room, returns focus, and refuses a taken name",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const url = `${server.url}/r/names`;
    const ana = await t.openChat(url, ENGLISH);
    const bea = await t.openChat(url, SPANISH);

    const viewport = ana.viewportSize();
    const button = await ana.locator("#rename-button").boundingBox();
    const header = await ana.locator("header.topbar").boundingBox();
    assert.ok(viewport && button && header);
    const rightGap = viewport.width - (button.x + button.width);
    assert.ok(
      rightGap >= 0 && rightGap <= 24,
      `the rename button ends ${rightGap}px from the right edge`,
    );
    assert.ok(
      button.y >= header.y && button.y < header.y + header.height,
      `the rename button's top (${button.y}) lies in the header (${header.y}–${
        header.y + header.height
      })`,
    );

    const before = await ownName(ana);
    await ana.locator("#rename-button").click();
    await waitFor(ana, "the rename dialog", (shown) => shown.dialogOpen);
    assert.equal(await ana.locator("#rename-input").inputValue(), before);
    assert.equal(
      await ana.locator("#rename-title").textContent(),
      "Change your name",
    );
    await ana.locator("#rename-input").fill("Marta");
    await ana.locator("#rename-submit").click();

    await waitForNotice(bea, `${before} ahora es Marta`);
    await waitForNotice(ana, `${before} is now Marta`);
    const renamed = await waitFor(
      ana,
      "the dialog to close and focus to return to the button that opened it",
      (shown) => !shown.dialogOpen && shown.focused === "rename-button",
    );
    assert.equal(renamed.you, "Marta");
    await waitFor(
      bea,
      "Marta in the member list",
      (shown) => shown.members.includes("Marta"),
    );

    // Bea asks for the same name in other letters' case: the server says no.
    const beaName = await ownName(bea);
    await bea.locator("#rename-button").click();
    await bea.locator("#rename-input").fill("marta");
    await bea.locator("#rename-input").press("Enter");
    const refused = await waitFor(
      bea,
      "the rename error",
      (shown) => shown.renameError !== null,
    );
    assert.equal(
      refused.renameError,
      "Alguien en esta sala ya usa ese nombre.",
    );
    assert.equal(refused.dialogOpen, true, "the dialog stays open");
    assert.equal(refused.you, beaName);
    assert.equal((await snapshot(ana)).dialogOpen, false);

    // Escape closes the dialog and hands focus back too.
    await bea.locator("#rename-input").press("Escape");
    await waitFor(
      bea,
      "Escape to close the dialog and focus its button",
      (shown) => !shown.dialogOpen && shown.focused === "rename-button",
    );
  },
);

browserTest(
  "a long history arrives in slices and the page shows all of it in order",
  async (t) => {
    const server = startServer({
      sendRate: { capacity: 1_000, refillPerSecond: 1_000 },
    });
    t.defer(() => server.close());
    const { client: luis } = await TestClient.join(server.wsUrl, {
      room: "long",
    });
    t.defer(() => luis.close());
    const texts = Array.from(
      { length: 40 },
      (_, i) => `Mensaje ${i + 1}: ${"bla ".repeat(60)}`.trim(),
    );
    for (const [i, text] of texts.entries()) {
      luis.send({ type: "send", id: `h${i}`, text });
      await luis.next("ack");
    }
    const page = await t.openChat(`${server.url}/r/long`, ENGLISH);
    const shown = await waitFor(
      page,
      "all 40 messages",
      (s) => s.messages.length === 40,
    );
    assert.deepEqual(shown.messages.map((m) => m.text), texts);
    assert.deepEqual(
      shown.messages.map((m) => m.seq),
      texts.map((_, i) => String(i + 1)),
    );
  },
);

browserTest(
  "closing a page shows a leave notice to the others after the grace period",
  async (t) => {
    const server = startServer({ leaveGraceMs: 300 });
    t.defer(() => server.close());
    // startServer leaves sweeping to the test; server.ts sweeps every second.
    const sweeper = setInterval(() => server.hub.sweep(), 100);
    t.defer(() => clearInterval(sweeper));
    const url = `${server.url}/r/leaving`;
    const ana = await t.openChat(url, ENGLISH);
    const bea = await t.openChat(url, ENGLISH);
    const beaName = await ownName(bea);
    await waitForNotice(ana, `${beaName} joined`);
    assert.equal((await snapshot(ana)).onlineCount, "2 online");

    await bea.context().close();
    await waitForNotice(ana, `${beaName} left`);
    const after = await waitFor(
      ana,
      "the member list to drop Bea",
      (shown) => shown.onlineCount === "1 online",
    );
    assert.ok(!after.members.includes(beaName));
  },
);

browserTest(
  "when the server lost its history the page says some messages may be missing, and keeps working",
  async (t) => {
    const dataDir = await Deno.makeTempDir({ prefix: "chat-browser-" });
    t.defer(() => Deno.remove(dataDir, { recursive: true }).catch(() => {}));
    const flags = (
      port: number,
    ) => ["--port", String(port), "--host", "127.0.0.1"];
    let chat: ChatProcess = spawnChat(...serverCommand(flags(0), dataDir));
    t.defer(() => chat.stop("SIGTERM"));
    const port = await chat.port;
    const ana = await t.openChat(`http://127.0.0.1:${port}/r/epoch`, ENGLISH);
    await send(ana, "in the old history");
    await waitFor(
      ana,
      "the message to be sent",
      (shown) => shown.messages.some((m) => m.seq !== undefined && !m.pending),
    );

    await chat.stop("SIGTERM");
    await waitForConnection(ana, "reconnecting");
    await Deno.remove(dataDir, { recursive: true });
    chat = spawnChat(...serverCommand(flags(port), dataDir));
    assert.equal(await chat.port, port);
    await ana.locator("#retry-button").click({ timeout: 5000 }).catch(() => {});
    await waitForConnection(ana, "open", 20_000);
    const shown = await waitFor(
      ana,
      "the gap marker",
      (page) => page.gapMarkers === 1,
    );
    assert.ok(
      shown.notices.some((n) => /missing/i.test(n)),
      shown.notices.join(" | "),
    );
    await send(ana, "in the new history");
    await waitFor(
      ana,
      "the new message to be sent",
      (page) =>
        page.messages.some((m) =>
          m.text === "in the new history" && m.seq === "1" && !m.pending
        ),
    );
  },
);

browserTest(
  "after a server restart the page reconnects and delivers a message typed while it was down exactly once",
  async (t) => {
    const dataDir = await Deno.makeTempDir({ prefix: "chat-browser-" });
    const flags = (port: number) => [
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
    ];
    t.defer(() => Deno.remove(dataDir, { recursive: true }));
    let chat: ChatProcess = spawnChat(...serverCommand(flags(0), dataDir));
    t.defer(() => chat.stop("SIGTERM"));
    const port = await chat.port;
    const url = `http://127.0.0.1:${port}/r/restart`;
    const ana = await t.openChat(url, ENGLISH);
    const bea = await t.openChat(url, ENGLISH);
    await send(ana, "before the restart");
    await waitForMessage(bea, "before the restart");

    await chat.stop("SIGTERM");
    await waitFor(
      ana,
      "the reconnecting state with a countdown and a retry button",
      (shown) =>
        shown.connection === "reconnecting" &&
        shown.phase === "reconnecting" &&
        /Reconnecting in \d+ s/.test(shown.status) &&
        shown.retryVisible,
    );

    const whileDown = "typed while the server was down";
    await send(ana, whileDown);
    await waitFor(
      ana,
      "the message to show as pending",
      (shown) =>
        shown.messages.some((m) => m.text === whileDown && m.pending && m.own),
    );

    chat = spawnChat(...serverCommand(flags(port), dataDir));
    assert.equal(await chat.port, port, "restarted on the same port");

    // Ana presses "Retry now"; Bea waits out her own backoff.
    const ready = await waitFor(
      ana,
      "the retry button (or an open connection)",
      (shown) => shown.connection === "open" || shown.retryVisible,
    );
    if (ready.connection !== "open") {
      await ana.locator("#retry-button").click({ timeout: 2000 }).catch(
        async (error) => {
          // It may have reconnected by itself in between: that is fine.
          if ((await snapshot(ana)).connection !== "open") throw error;
        },
      );
    }
    await waitForConnection(ana, "open");
    await waitForMessage(ana, whileDown);
    await waitForConnection(bea, "open", 20_000);
    await waitForMessage(bea, whileDown);

    // A later message is a fence: a duplicate would have arrived before it.
    await send(ana, "after the restart");
    await waitForMessage(ana, "after the restart");
    await waitForMessage(bea, "after the restart");
    const expected = ["before the restart", whileDown, "after the restart"];
    for (const [who, page] of [["sender", ana], ["other", bea]] as const) {
      const shown = await snapshot(page);
      assert.deepEqual(
        shown.messages.map((m) => m.text),
        expected,
        `the ${who} shows every message once, in order`,
      );
      const copy = shown.messages[1];
      assert.equal(copy?.own, who === "sender");
      assert.equal(copy?.pending, false);
      assert.equal(shown.gapMarkers, 0, `the ${who} shows no gap marker`);
    }

    const joined = await TestClient.join(`ws://127.0.0.1:${port}/ws`, {
      room: "restart",
    });
    t.defer(() => joined.client.close());
    assert.deepEqual(
      joined.welcome.history.map((m) => m.text),
      expected,
      "the server stored it once",
    );
  },
);

browserTest(
  "the page fits 375 px and 1280 px wide with long words and names, composer in view",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    await Deno.mkdir(OUTPUT_DIR, { recursive: true });
    const url = `${server.url}/r/layout`;
    const ana = await t.openChat(url, {
      ...ENGLISH,
      viewport: { width: 375, height: 800 },
    });
    const bea = await t.openChat(url, ENGLISH);
    const longName = "Maximiliano Alejandro de la Cruz";
    await rename(ana, longName);
    const texts = [
      "Hi! Is the layout holding up on a phone?",
      "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(5),
      `https://example.com/${"a1b2c3d4".repeat(20)}?q=1`,
      "Sí, se ve bien 👍",
    ];
    for (const [i, text] of texts.entries()) {
      await send(i % 2 === 0 ? bea : ana, text);
      await waitForMessage(ana, text);
    }

    for (const width of [375, 1280]) {
      const height = 800;
      await ana.setViewportSize({ width, height });
      await ana.screenshot({
        path: new URL(`chat-${width}.png`, OUTPUT_DIR).pathname,
      });
      const shown = await snapshot(ana);
      assert.ok(
        shown.scrollWidth <= shown.innerWidth,
        `at ${width}px the page is ${shown.scrollWidth}px wide`,
      );
      assert.deepEqual(
        shown.overflowingTexts,
        [],
        `at ${width}px every message wraps inside the list`,
      );
      for (const id of ["composer-input", "send-button", "rename-button"]) {
        const control = ana.locator(`#${id}`);
        assert.ok(await control.isVisible(), `#${id} is visible`);
        const box = await control.boundingBox();
        assert.ok(
          box && box.x >= 0 && box.y >= 0 && box.x + box.width <= width &&
            box.y + box.height <= height,
          `at ${width}px #${id} lies inside the viewport: ${
            JSON.stringify(box)
          }`,
        );
      }
    }
  },
);

browserTest(
  "the UI follows the browser language and remembers a choice from the language menu",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const ui = async (page: Page) => {
      const shown = await snapshot(page);
      return { lang: shown.lang, status: shown.status, ...shown.labels };
    };
    const spanish = {
      lang: "es",
      status: "Conectado",
      rename: "Cambiar nombre",
      send: "Enviar",
      placeholder: "Escribe un mensaje…",
      menu: "es",
    };
    const english = {
      lang: "en",
      status: "Connected",
      rename: "Change name",
      send: "Send",
      placeholder: "Write a message…",
      menu: "en",
    };

    const es = await t.openChat(server.url, SPANISH);
    assert.deepEqual(await ui(es), spanish);

    const en = await t.openChat(server.url, ENGLISH);
    assert.deepEqual(await ui(en), english);

    await en.locator("#lang-select").selectOption("es");
    assert.deepEqual(await ui(en), spanish);
    await en.reload();
    await waitForConnection(en, "open");
    assert.deepEqual(await ui(en), spanish, "the choice survives a reload");

    await en.locator("#lang-select").selectOption("en");
    assert.deepEqual(await ui(en), english);
  },
);

browserTest(
  "markup in messages and names shows as text and never runs",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const payloads = [
      "<img src=x onerror=alert(1)>",
      "<script>alert(1)</script>",
      `"><svg/onload=alert(1)>`,
    ];
    const url = `${server.url}/r/xss`;
    const dialogs: string[] = [];
    const pages: Page[] = [];
    for (let i = 0; i < 2; i++) {
      const page = await t.newPage(ENGLISH);
      page.on("dialog", (dialog) => {
        dialogs.push(`${dialog.type()}: ${dialog.message()}`);
        dialog.dismiss().catch(() => {});
      });
      await gotoChat(page, url);
      pages.push(page);
    }
    const [ana, bea] = pages as [Page, Page];

    for (const text of payloads) {
      await send(ana, text);
      await waitForMessage(ana, text);
      await waitForMessage(bea, text);
    }

    const anaName = await ownName(ana);
    await ana.locator("#rename-button").click();
    for (const name of payloads) {
      await ana.locator("#rename-input").fill(name);
      // Submitting hides the previous error at once, so the error seen next
      // is the answer to this name.
      await ana.locator("#rename-submit").click();
      const refused = await waitFor(
        ana,
        `the refusal of ${name}`,
        (shown) => shown.renameError !== null,
      );
      // The first character not allowed is named (as text, never markup).
      assert.match(
        refused.renameError ?? "",
        /^“.+” can't be in a name: letters, digits, spaces and \. _ - only\.$/,
        `refused name ${name}`,
      );
      assert.ok(refused.dialogOpen);
    }
    await ana.locator("#rename-cancel").click();

    for (const [who, page] of [["sender", ana], ["other", bea]] as const) {
      const shown = await snapshot(page);
      assert.deepEqual(
        shown.messages.map((m) => m.text),
        payloads,
        `the ${who} shows the markup literally`,
      );
      assert.equal(shown.injected, 0, `the ${who} has no injected elements`);
      assert.ok(shown.members.includes(anaName), "the name is unchanged");
    }
    assert.deepEqual(dialogs, [], "no script ran");
  },
);

browserTest(
  "unbalanced bidi controls in a message cannot reorder the author and time around it",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const url = `${server.url}/r/bidi`;
    const ana = await t.openChat(url, ENGLISH);
    const bea = await t.openChat(url, ENGLISH);
    await rename(ana, "Ana");
    await rename(bea, "Bea");
    // RIGHT-TO-LEFT OVERRIDE with no closing PDF, then a plain message (by
    // someone else, so that its name and time are shown, not grouped).
    await send(ana, "\u202Eevil text");
    await send(bea, "plain text");
    await waitForMessage(bea, "plain text");
    // Positions of the author and time of each message, read in the page.
    const rows = await bea.evaluate(`[...document.querySelectorAll(
      "#messages .msg")].map((row) => {
        const author = row.querySelector("bdi.author").getBoundingClientRect();
        const time = row.querySelector("time").getBoundingClientRect();
        const text = row.querySelector(".text");
        return {
          authorLeft: author.left,
          timeLeft: time.left,
          top: author.top,
          timeTop: time.top,
          dir: text.getAttribute("dir"),
          author: row.querySelector("bdi.author").textContent,
        };
      })`) as {
      authorLeft: number;
      timeLeft: number;
      top: number;
      timeTop: number;
      dir: string | null;
      author: string;
    }[];
    assert.equal(rows.length, 2, JSON.stringify(rows));
    assert.deepEqual(rows.map((row) => row.author), ["Ana", "Bea"]);
    for (const row of rows) {
      assert.equal(row.dir, "auto", "the text is isolated");
      assert.ok(
        row.authorLeft < row.timeLeft,
        `author stays before the time: ${JSON.stringify(row)}`,
      );
    }
    const [evil, plain] = rows;
    assert.equal(
      evil?.authorLeft,
      plain?.authorLeft,
      "same layout as a plain message",
    );
  },
);

browserTest(
  "a normal session causes no Content-Security-Policy violations, script errors or console errors",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const url = `${server.url}/r/csp`;
    const problems: string[] = [];
    const pages: Page[] = [];
    for (let i = 0; i < 2; i++) {
      const page = await t.newPage(ENGLISH);
      await recordCspViolations(page);
      page.on("console", (message) => {
        if (
          message.type() === "error" ||
          /security policy/i.test(message.text())
        ) {
          problems.push(
            `console ${message.type()}: ${message.text()} (${message.location().url})`,
          );
        }
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error}`));
      const response = await gotoChat(page, url);
      assert.match(
        response.headers()["content-security-policy"] ?? "",
        /script-src 'self'/,
        "the page is served with a CSP",
      );
      pages.push(page);
    }
    const [ana, bea] = pages as [Page, Page];

    await send(ana, "Hola 👋");
    await waitForMessage(bea, "Hola 👋");
    await send(bea, "Hi!");
    await waitForMessage(ana, "Hi!");
    const before = await ownName(ana);
    await rename(ana, "Lucía");
    await waitForNotice(bea, `${before} is now Lucía`);
    await bea.locator("#lang-select").selectOption("es");

    for (const [who, page] of [["Ana", ana], ["Bea", bea]] as const) {
      const shown = await snapshot(page);
      assert.deepEqual(shown.cspViolations, [], `no violations for ${who}`);
    }
    assert.deepEqual(problems, []);

    // The recorder itself works: a blocked image is reported.
    await ana.evaluate(`{
      const img = document.createElement("img");
      img.src = "https://example.invalid/tracker.png";
      document.body.append(img);
    }`);
    await waitFor(
      ana,
      "the deliberate violation to be recorded",
      (shown) => shown.cspViolations.length > 0,
    );
  },
);

browserTest(
  "near the 4,000-character limit the composer counts down; past it, sending waits",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const page = await t.openChat(`${server.url}/r/long-text`, ENGLISH);
    const input = page.locator("#composer-input");
    const count = page.locator("#char-count");
    await input.fill("x".repeat(100));
    assert.equal(await count.isHidden(), true, "no counter far from the limit");
    await input.fill("x".repeat(3_900));
    assert.equal(await count.textContent(), "100 characters left");
    await input.fill("x".repeat(4_010));
    assert.equal(await count.textContent(), "10 characters too long");
    assert.equal(await page.locator("#send-button").isDisabled(), true);
    assert.equal(await input.getAttribute("aria-invalid"), "true");
    await input.press("Enter");
    assert.equal((await input.inputValue()).length, 4_010, "nothing was sent");
    assert.equal((await snapshot(page)).messages.length, 0);
    await input.press("Backspace");
    await input.fill("x".repeat(4_000));
    await input.press("Enter");
    await waitForMessage(page, "x".repeat(4_000));
  },
);

browserTest(
  "while reconnecting, screen readers hear the change of state once, not a countdown; the outage is plain to see",
  async (t) => {
    const server = startServer();
    const page = await t.openChat(`${server.url}/r/outage`, ENGLISH);
    await server.close();
    await waitFor(
      page,
      "the page to notice the lost connection",
      (s) => s.phase === "reconnecting",
      10_000,
    );
    const live = page.locator("#status-live");
    // Three seconds of countdown: the visible line changes every second,
    // the announcement only when the state does (lost → unreachable).
    const announced = new Set<string>();
    const shown = new Set<string>();
    for (let i = 0; i < 12; i++) {
      announced.add(await live.textContent() ?? "");
      shown.add(await page.locator("#status").textContent() ?? "");
      await page.waitForTimeout(250);
    }
    assert.ok(announced.size <= 2, [...announced].join(" | "));
    for (const text of announced) {
      assert.doesNotMatch(text, /\d/, "no seconds in the announcement");
    }
    assert.ok(shown.size > announced.size, "the visible line counts down");
    assert.equal(await live.getAttribute("role"), "status");
    assert.equal(await page.locator("#status").getAttribute("aria-live"), null);
    const dimmed = await page.locator("#member-list").evaluate((node) =>
      node.ownerDocument.defaultView?.getComputedStyle(node).opacity
    );
    assert.equal(dimmed, "0.5", "the member list is marked as stale");
  },
);

browserTest(
  "rename errors say what is wrong: the character, the limit, the wait",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const page = await t.openChat(`${server.url}/r/names-errors`, ENGLISH);
    assert.equal(
      await page.locator("#rename-input").getAttribute("maxlength"),
      "32",
    );
    const tryName = async (name: string) => {
      if (!(await snapshot(page)).dialogOpen) {
        await page.locator("#rename-button").click();
      }
      await page.locator("#rename-input").fill(name);
      await page.locator("#rename-submit").click();
    };
    await tryName("Ana!");
    await waitFor(page, "the bad character named", (s) =>
      s.renameError ===
        "“!” can't be in a name: letters, digits, spaces and . _ - only.");
    assert.equal(
      await page.locator("#rename-input").getAttribute("aria-invalid"),
      "true",
    );
    // maxlength keeps typing and pasting short; a value set otherwise (an
    // autofill, a script) is still explained.
    await page.locator("#rename-input").evaluate((input) => {
      (input as unknown as { value: string }).value = "x".repeat(40);
    });
    await page.locator("#rename-submit").click();
    await waitFor(
      page,
      "the limit said",
      (s) => s.renameError === "At most 32 characters; this one has 40.",
    );
    await tryName("Ana");
    await waitFor(page, "the rename", (s) => s.you === "Ana" && !s.dialogOpen);
    await tryName("Ana Dos");
    await waitFor(
      page,
      "the wait said",
      (s) =>
        /^You changed your name a moment ago: try again in \d+ s\.$/.test(
          s.renameError ?? "",
        ),
    );
  },
);

browserTest(
  "a message the server refuses can go back into the composer to be fixed",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const page = await t.openChat(`${server.url}/r/refused`, ENGLISH);
    // Only control characters: the page lets it go, the server finds it
    // empty once they are stripped, and refuses it for good.
    const input = page.locator("#composer-input");
    await input.fill("\u0001\u0002");
    await input.press("Enter");
    const failed = await waitFor(
      page,
      "the refusal shown on the message",
      (s) => s.messages.some((m) => m.failed),
    );
    assert.equal(failed.messages.length, 1);
    await page.locator(".msg.failed .edit").click();
    assert.equal(await input.inputValue(), "\u0001\u0002");
    await waitFor(
      page,
      "the failed message gone",
      (s) => s.messages.length === 0,
    );
    assert.equal((await snapshot(page)).focused, "composer-input");
  },
);
