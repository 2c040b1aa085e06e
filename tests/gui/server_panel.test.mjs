// The real Sockscope window (WebKitGTK under Xvfb) driven through tauri-driver:
// start the embedded gateway from the Server panel, connect a Node socket.io-client,
// emit, and see the event in the live list and the socket counter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { io } from "socket.io-client";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";


test("Server panel: start the gateway, a Node client emits, the window shows it", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const s = await openApp(t);

  await s.waitFor("#gateway-start", "the Server panel");
  assert.equal(await s.text("#gateway-state"), "stopped");
  assert.equal(await s.text("#socket-count"), "0");

  // Port 0: the gateway picks a free port and the panel shows which.
  await s.type("#gateway-port", "0");
  await s.click("#gateway-start");
  await s.until(async () => (await s.text("#gateway-state")) === "running", "the gateway to run");
  const addr = await s.text("#gateway-addr");
  assert.match(addr, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await s.enabled("#gateway-start"), false);
  // No key: the panel says identities are not verified (issue 9).
  assert.match(await s.innerText("#gateway-trust"), /auth: off, identities are not verified/);

  const client = io(addr, { transports: ["websocket"], reconnection: false, forceNew: true });
  t.after(() => client.close());
  await new Promise((resolve, reject) => {
    client.once("connect", resolve);
    client.once("connect_error", reject);
  });
  const ack = await client.timeout(5000).emitWithAck("gui-hello", { from: "node", n: 1 });
  assert.equal(ack.ok, true);

  await s.waitFor('[data-testid="event-row"][data-event="gui-hello"]', "gui-hello in the live list");
  const row = await s.innerText('[data-testid="event-row"][data-event="gui-hello"]');
  assert.match(row, /gui-hello/);
  
  assert.match(await s.innerText('[data-testid="event-row"][data-event="gui-hello"] .payload'), /"from":"node"/);
  await s.until(async () => (await s.text("#socket-count")) === "1", "the socket count to read 1");

  // The JSON viewer shows the whole record of the clicked row.
  await s.click('[data-testid="event-row"][data-event="gui-hello"]');
  await s.until(async () => /"event": "gui-hello"/.test(await s.text("#log-json")), "the JSON viewer");
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(join(artifacts, "server-panel.png"), await s.screenshot());

  client.close();
  await s.until(async () => (await s.text("#socket-count")) === "0", "the socket count to drop to 0");
  await s.click("#gateway-stop");
  await s.until(async () => (await s.text("#gateway-state")) === "stopped", "the gateway to stop");
});

test("Server panel: a busy port is a visible one-line error", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set");
  const { createServer } = await import("node:net");
  const blocker = createServer();
  await new Promise((r) => blocker.listen(0, "127.0.0.1", r));
  t.after(() => blocker.close());
  const port = blocker.address().port;

  const s = await openApp(t);

  await s.waitFor("#gateway-start", "the Server panel");
  await s.type("#gateway-port", String(port));
  await s.click("#gateway-start");
  await s.waitFor("#error-banner", "the error banner");
  assert.match(await s.text("#error-banner"), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
  assert.equal(await s.text("#gateway-state"), "stopped");

  await s.type("#gateway-port", "abc");
  await s.click("#gateway-start");
  await s.until(async () => /not a number/.test(await s.text("#error-banner")), "the bad port message");
});
