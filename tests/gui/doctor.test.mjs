// Issue 25, item 5, in the real window: the Connections panel's "Why can't I
// connect?" button runs the connection doctor on the form's settings. A socket.io
// 4.8 server that allows websocket only and refuses connections without the right
// token: with no token the report names the auth refusal and the missing polling
// transport; with the token typed in the form it says what connects and shows the
// `sockscope connect` line (with --transport websocket and no token in it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "socket.io";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";

async function guardedServer() {
  const http = createServer();
  const io = new Server(http, { transports: ["websocket"] });
  io.use((socket, next) => (socket.handshake.auth.token === "gui-doctor-token" ? next() : next(new Error("not authorized"))));
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${http.address().port}`,
    close: () => {
      io.close();
      http.close();
    },
  };
}

test("Connections panel: Why can't I connect? names the refused auth, then the settings that connect", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const srv = await guardedServer();
  t.after(() => srv.close());
  const dir = mkdtempSync(join(tmpdir(), "sockscope-gui-doctor-"));
  const s = await openApp(t, { SOCKSCOPE_DB: join(dir, "gui.db") });

  await s.waitFor("#tab-connections", "the Connections tab");
  await s.click("#tab-connections");
  await s.waitFor("#conn-doctor", "the doctor button");
  await s.type("#conn-url", srv.url);
  await s.click("#conn-doctor");
  const check = (id) => `[data-testid="doctor-check"][data-id="${id}"]`;
  await s.waitFor(check("auth"), "the doctor's auth check", 30_000);
  assert.equal(await s.attr(check("auth"), "data-outcome"), "bad");
  assert.match(await s.innerText(check("auth")), /refused the connection: "not authorized"\. No auth was sent/);
  assert.equal(await s.attr(check("polling_v4"), "data-outcome"), "bad");
  assert.match(await s.innerText(check("polling_v4")), /does not offer polling/);
  assert.equal(await s.attr(check("websocket_v4"), "data-outcome"), "ok");
  assert.match(await s.text("#conn-doctor-summary"), /^Nothing connects: .*not authorized/);
  assert.equal((await s.findAll("#conn-doctor-connect")).length, 0);
  await s.execute(`document.querySelector("#conn-doctor-summary").scrollIntoView({ block: "center" });`);
  writeFileSync(join(artifacts, "doctor-report.png"), await s.screenshot());

  // Positive control: the token typed in the form is sent, and the settings connect.
  await s.type("#conn-token", "gui-doctor-token");
  await s.click("#conn-doctor");
  await s.until(async () => (await s.findAll(check("auth")))[0] && (await s.attr(check("auth"), "data-outcome")) === "ok", "the auth check to pass", 30_000);
  assert.match(await s.innerText(check("auth")), /accepted the auth sent \(auth\.token\)/);
  assert.match(await s.text("#conn-doctor-summary"), /^Works: connects with Engine\.IO v4 .*websocket only/);
  const line = await s.text("#conn-doctor-connect");
  assert.equal(line, `Connect with: sockscope connect ${srv.url} --transport websocket --auth '{"token":"…"}'`);
  assert.doesNotMatch(line, /gui-doctor-token/);
});
