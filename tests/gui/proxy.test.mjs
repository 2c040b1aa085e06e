// The Proxy panel in the real window: a bad rule is refused with the engine's one-line
// error; then the capture proxy runs between a Node socket.io-client 4.8 and a Node
// socket.io 4.8 server with `drop event=secret`. The client gets `public` and not
// `secret`, the panel lists the client (transport, counts, the fault, its redacted
// handshake) and the live log shows both events, the ⚠ badge on `secret` only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { Server } from "socket.io";
import { io } from "socket.io-client";
import { freePort, openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";
const TOKEN = "gui-proxy-bearer-7f3a";

/** A socket.io 4.8 server: on `go` it emits `secret`, then `public`. */
async function upstreamServer() {
  const http = createServer();
  const server = new Server(http);
  const received = [];
  server.on("connection", (socket) => {
    socket.onAny((event) => received.push(event));
    socket.on("go", () => {
      socket.emit("secret", { code: 1234 });
      socket.emit("public", { hello: "world" });
    });
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${http.address().port}`,
    received,
    close: () => {
      server.close();
      http.close();
    },
  };
}

/** The client row's cell `field` (`proxy-transport`, `proxy-c2s`...). */
const cell = (field) => `[data-testid="proxy-client"][data-n="1"] [data-testid="${field}"]`;

test("Proxy panel: a rule drops secret, the panel and the live log show it", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const upstream = await upstreamServer();
  t.after(() => upstream.close());
  const port = await freePort();
  const s = await openApp(t);

  await s.waitFor("#tab-proxy", "the Proxy tab");
  await s.click("#tab-proxy");
  await s.waitFor("#proxy-start", "the Proxy panel");
  assert.equal(await s.text("#proxy-state"), "stopped");

  // A bad rule: the engine's one line, and nothing starts.
  await s.type("#proxy-listen", `127.0.0.1:${port}`);
  await s.type("#proxy-upstream", upstream.url);
  await s.type("#proxy-rules", "explode event=secret");
  await s.click("#proxy-start");
  await s.until(async () => (await s.innerText("#proxy-error")).trim() !== "", "the rule error");
  const refusal = (await s.innerText("#proxy-error")).trim();
  assert.match(refusal, /explode/);
  assert.ok(!refusal.includes("\n"), `one line: ${JSON.stringify(refusal)}`);
  assert.equal(await s.text("#proxy-state"), "stopped");
  assert.equal(await s.enabled("#proxy-start"), true);
  await assert.rejects(
    fetch(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`),
    "nothing listens on the proxy port after a refused start",
  );

  // The same form with a good rule starts (the positive control of the refusal).
  await s.type("#proxy-rules", "drop event=secret");
  await s.click("#proxy-start");
  await s.until(async () => (await s.text("#proxy-state")) === "running", "the proxy to run");
  assert.equal(await s.enabled("#proxy-start"), false);
  assert.equal((await s.innerText("#proxy-error")).trim(), "");
  const url = (await s.text("#proxy-url")).trim();
  assert.equal(url, `http://127.0.0.1:${port}`);

  // A real client through the URL the panel shows: polling, then the upgrade.
  const client = io(url, {
    reconnection: false,
    forceNew: true,
    extraHeaders: { authorization: `Bearer ${TOKEN}` },
  });
  t.after(() => client.close());
  const got = [];
  client.onAny((event, ...args) => got.push({ event, args }));
  await new Promise((resolve, reject) => {
    client.once("connect", resolve);
    client.once("connect_error", reject);
  });
  if (client.io.engine.transport.name !== "websocket") {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no websocket upgrade through the proxy in 10 s")), 10_000);
      client.io.engine.once("upgrade", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  const publicSeen = new Promise((resolve) => client.once("public", resolve));
  client.emit("go");
  assert.deepEqual(await publicSeen, { hello: "world" });
  // `secret` was emitted before `public` on the same connection: had it crossed, it
  // would have arrived first.
  assert.deepEqual(got.map((g) => g.event), ["public"]);
  assert.ok(upstream.received.includes("go"), "the server got the client's go");

  // The panel's client list (refreshed every second).
  await s.waitFor('[data-testid="proxy-client"][data-n="1"]', "the client in the panel");
  await s.until(async () => (await s.innerText(cell("proxy-transport"))) === "websocket", "the transport to read websocket");
  await s.until(async () => /secret/.test(await s.innerText(cell("proxy-faults"))), "the fault in the client row");
  assert.match(await s.innerText(cell("proxy-faults")), /⚠ 1/);
  assert.equal(await s.innerText(cell("proxy-eio")), "4");
  assert.equal(await s.innerText(cell("proxy-parser")), "json");
  assert.match(await s.innerText(cell("proxy-namespaces")), /^\//);
  assert.ok(Number(await s.innerText(cell("proxy-c2s"))) >= 1, "c2s counts the go");
  assert.ok(Number(await s.innerText(cell("proxy-s2c"))) >= 1, "s2c counts public");
  assert.equal(await s.innerText(cell("proxy-ended")), "open");
  assert.match(await s.innerText("#proxy-summary"), /1 open · 1 seen/);

  // The handshake opens under the row: the header is there, its secret is not.
  await s.click(`[data-testid="proxy-client"][data-n="1"] [data-testid="proxy-client-toggle"]`);
  await s.waitFor('[data-testid="proxy-handshake"]', "the handshake");
  const handshake = await s.innerText('[data-testid="proxy-handshake"]');
  assert.match(handshake, /"authorization": "\[redacted\]"/);
  assert.match(handshake, /"url": "\/socket\.io\/\?EIO=/);
  assert.ok(!handshake.includes(TOKEN), `the bearer token is redacted: ${handshake}`);
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(join(artifacts, "proxy-panel.png"), await s.screenshot());

  // The live log: both events from proxy:1, the ⚠ badge on secret only.
  await s.click("#tab-live");
  const row = (event) => `[data-testid="event-row"][data-event="${event}"]`;
  await s.waitFor(row("secret"), "secret in the live log");
  await s.waitFor(row("public"), "public in the live log");
  assert.match(await s.innerText(`${row("secret")} .c-src`), /^proxy:1$/);
  assert.match(await s.innerText(`${row("public")} .c-src`), /^proxy:1$/);
  const badge = `${row("secret")} [data-testid="fault-badge"]`;
  await s.waitFor(badge, "the fault badge on secret");
  assert.match(await s.attr(badge, "title"), /drop/);
  assert.equal((await s.findAll(`${row("public")} [data-testid="fault-badge"]`)).length, 0, "public crossed untouched");
  await s.type("#log-filter-source", "proxy:");
  writeFileSync(join(artifacts, "proxy-live-log.png"), await s.screenshot());

  // Stop: the client stays listed, ended.
  await s.click("#tab-proxy");
  await s.click("#proxy-stop");
  await s.until(async () => (await s.text("#proxy-state")) === "stopped", "the proxy to stop");
  assert.notEqual(await s.innerText(cell("proxy-ended")), "open");
  assert.equal(await s.enabled("#proxy-start"), true);
});
