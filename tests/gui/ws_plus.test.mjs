// Issue 14 in the real window: the Connections form's TLS fields (a self-signed HTTPS
// socket.io 4.8 gateway, made here by openssl, reached with the CA file and refused
// without it; the insecure checkbox shows its warning) and the two new scenarios in
// the Simulator panel (jac-chat over plain WebSocket runs to a report).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "socket.io";
import { openApp } from "./webdriver.mjs";

const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";

async function httpsGateway(t) {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-gui-tls-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key, "-out", cert,
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  const https = createServer({ key: readFileSync(key), cert: readFileSync(cert) });
  const io = new Server(https);
  let connected = 0;
  io.on("connection", () => connected++);
  await new Promise((r) => https.listen(0, "127.0.0.1", r));
  t.after(() => { io.close(); https.close(); });
  return { url: `https://127.0.0.1:${https.address().port}`, cert, connected: () => connected };
}

test("Connections form: an HTTPS gateway with a self-signed certificate needs the CA file; insecure warns", async (t) => {
  const gw = await httpsGateway(t);
  const s = await openApp(t, { SOCKSCOPE_DB: join(mkdtempSync(join(tmpdir(), "sockscope-gui-tls-db-")), "gui.db") });
  mkdirSync(artifacts, { recursive: true });
  await s.waitFor("#tab-connections", "the Connections tab");
  await s.click("#tab-connections");
  await s.waitFor("#conn-ca-cert", "the TLS fields");
  await s.type("#conn-url", gw.url);

  // Without the CA: refused, with the certificate problem named.
  await s.click("#conn-connect");
  await s.until(async () => /TLS certificate not trusted \(self-signed certificate\)/.test(await s.text("#conn-note")), "the certificate message");
  assert.equal(gw.connected(), 0);

  // The insecure switch shows its warning before anything connects, and hides it again.
  await s.click("#conn-insecure");
  await s.waitFor("#conn-insecure-warning", "the insecure warning");
  assert.match(await s.text("#conn-insecure-warning"), /NOT be checked/);
  await s.click("#conn-insecure");
  await s.until(async () => (await s.findAll("#conn-insecure-warning")).length === 0, "the warning to go");

  // With the CA file: connected.
  await s.type("#conn-ca-cert", gw.cert);
  await s.click("#conn-connect");
  await s.until(async () => /^connected: /.test(await s.text("#conn-note")), "the connection");
  await s.until(async () => gw.connected() === 1, "the gateway to see the client");
  writeFileSync(join(artifacts, "connections-tls.png"), await s.screenshot());
});

test("Simulator panel: jac-chat and gxp-plugins are listed; jac-chat runs over plain WebSocket to a report", async (t) => {
  const s = await openApp(t, { SOCKSCOPE_DB: join(mkdtempSync(join(tmpdir(), "sockscope-gui-sim-ws-")), "sim.db") });
  await s.waitFor("#tab-simulator", "the Simulator tab");
  await s.click("#tab-simulator");
  await s.waitFor('#sim-scenario option[value="gxp-plugins"]', "the gxp-plugins scenario");
  await s.waitFor('#sim-scenario option[value="jac-chat"]', "the jac-chat scenario");
  await s.click('#sim-scenario option[value="jac-chat"]');
  await s.type("#sim-clients", "4");
  await s.type("#sim-ramp", "0.5");
  await s.type("#sim-duration", "3");
  await s.click("#sim-start");
  await s.waitFor("#sim-report", "the report", 30_000);
  const summary = await s.text("#sim-summary");
  assert.match(summary, /jac-chat: 4 clients, 4 connected, 0 failed/);
  assert.match(summary, /; 0 errors$/);
  assert.ok(Number((await s.innerText('[data-testid="sim-event"][data-event="walker"]')).split(/\s+/)[2]) > 0);
  writeFileSync(join(artifacts, "simulator-jac-chat.png"), await s.screenshot());
});
