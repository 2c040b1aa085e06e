// Issue 14 in the real window: the Connections panel's ack reply rules. A Node
// socket.io 4.8 server emitWithAck's `question` (answered by the rule) and `plain`
// (no rule: the server's wait times out) as soon as the panel connects; the live log
// marks the two rows answered and unanswered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "socket.io";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;

async function askingServer() {
  const http = createServer();
  const io = new Server(http);
  const results = [];
  io.on("connection", async (socket) => {
    const settle = (p) => p.then((v) => ({ ok: v }), (e) => ({ err: e.message }));
    const [answered, plain] = await Promise.all([
      settle(socket.timeout(5000).emitWithAck("question", { q: 1 })),
      settle(socket.timeout(1000).emitWithAck("plain", "y")),
    ]);
    results.push({ answered, plain });
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${http.address().port}`,
    results,
    close: () => {
      io.close();
      http.close();
    },
  };
}

test("Connections panel: ack reply rules answer the server's emitWithAck; others show unanswered", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const srv = await askingServer();
  t.after(() => srv.close());
  const dir = mkdtempSync(join(tmpdir(), "sockscope-gui-ack-"));
  const s = await openApp(t, { SOCKSCOPE_DB: join(dir, "gui.db") });

  await s.waitFor("#tab-connections", "the Connections tab");
  await s.click("#tab-connections");
  await s.waitFor("#conn-ack-replies", "the ack replies field");
  await s.type("#conn-url", srv.url);
  // A bad rule is one line before anything connects.
  await s.type("#conn-ack-replies", "question={oops");
  await s.click("#conn-connect");
  await s.until(async () => /bad JSON template in ack reply question/.test(await s.text("#conn-note")), "the bad rule message");
  await s.type("#conn-ack-replies", 'question={"answer":42}');
  await s.click("#conn-connect");
  await s.until(async () => /^connected: /.test(await s.text("#conn-note")), "the connection");

  await s.until(async () => srv.results.length === 1, "the server's two ack waits to settle");
  assert.deepEqual(srv.results[0].answered, { ok: { answer: 42 } });
  assert.match(srv.results[0].plain.err, /timed out/);

  await s.click("#tab-live");
  await s.waitFor('[data-testid="event-row"][data-event="question"]', "the question row");
  await s.waitFor('[data-testid="event-row"][data-event="plain"]', "the plain row");
  assert.match(await s.innerText('[data-testid="event-row"][data-event="question"] .c-ev'), /question \(ack answered\)/);
  assert.match(await s.innerText('[data-testid="event-row"][data-event="plain"] .c-ev'), /plain \(ack unanswered\)/);
});
