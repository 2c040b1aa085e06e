// TLS options of the client paths (issue 14, point 4): an HTTPS gxp-profile gateway
// with a self-signed certificate made here by openssl is reached with --ca-cert and
// with --insecure (which says so), and refused without either with one line naming
// the certificate problem; the same for --ws (wss://), replay and simulate; mutual
// TLS against a Node https + socket.io server that requires a client certificate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "socket.io";
import { hs256, run, serve, withTimeout } from "./harness.mjs";

function makeCert(cn = "127.0.0.1") {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-tls-client-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    "-keyout", key, "-out", cert, "-subj", `/CN=${cn}`,
    "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" });
  return { cert, key, dir };
}

async function httpsGxp(t, extra = []) {
  const c = makeCert();
  const srv = await serve(["--port", "0", "--profile", "gxp", ...extra], { USE_HTTPS: "true", CERT_PATH: c.cert, KEY_PATH: c.key });
  t.after(() => srv.child.kill("SIGKILL"));
  assert.match(srv.url, /^https:\/\//);
  return { srv, ...c };
}

const INSECURE = /warning: --insecure: TLS certificates and host names are NOT checked/;
const UNTRUSTED = /^sockscope: error: cannot reach \S+:? ?TLS certificate not trusted \(self-signed certificate\): pass --ca-cert PEM to trust its issuer, or --insecure to skip the check$/;

test("record over HTTPS: --ca-cert and --insecure connect, neither is one line naming the certificate problem", async (t) => {
  const { srv, cert, key, dir } = await httpsGxp(t);
  const db = join(dir, "tls.db");

  const trusted = await run(["record", srv.url, "--duration", "1s", "--db", db, "--ca-cert", cert]);
  assert.equal(trusted.code, 0, trusted.stderr);
  assert.match(trusted.stderr, /session 1 .*events written/);
  assert.doesNotMatch(trusted.stderr, INSECURE);
  assert.match(trusted.stdout, /s2c \/ connect/);

  const insecure = await run(["record", srv.url, "--duration", "1s", "--db", db, "--insecure"]);
  assert.equal(insecure.code, 0, insecure.stderr);
  assert.match(insecure.stderr, INSECURE);
  assert.match(insecure.stdout, /s2c \/ connect/);

  const refused = await run(["record", srv.url, "--duration", "1s", "--db", db]);
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
  assert.match(refused.stderr.trim(), UNTRUSTED);

  // A certificate for another CA is no better than none.
  const other = makeCert();
  const wrong = await run(["connect", srv.url, "--ca-cert", other.cert, "--no-reconnect"]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr.trim(), /TLS certificate not trusted/);

  // Bad files: one line naming the file, before anything connects.
  const notPem = await run(["connect", srv.url, "--ca-cert", key]);
  assert.equal(notPem.code, 2);
  assert.equal(notPem.stderr.trim().split("\n").length, 1, notPem.stderr);
  assert.match(notPem.stderr, new RegExp(`--ca-cert ${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: not a usable PEM file`));
  const missing = await run(["connect", srv.url, "--ca-cert", join(dir, "nope.pem")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.pem/);
  const badKey = await run(["connect", srv.url, "--client-cert", cert, "--client-key", cert]);
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /--client-key .*cert\.pem: not a usable PEM file \(no PEM private key in it\)/);
});

test("--ws over wss://: --ca-cert connects, nothing refuses with the certificate problem", async (t) => {
  const { srv, cert } = await httpsGxp(t);
  // The Engine.IO WebSocket endpoint answers a plain WebSocket with its open packet.
  const wss = srv.url.replace("https", "wss") + "/socket.io/?EIO=4&transport=websocket";
  const dir = mkdtempSync(join(tmpdir(), "sockscope-tls-ws-"));
  const ok = await run(["record", wss, "--ws", "--duration", "1s", "--db", join(dir, "w.db"), "--ca-cert", cert]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /s2c \/socket\.io\/ connect/);
  assert.match(ok.stdout, /s2c \/socket\.io\/ message/);
  const refused = await run(["record", wss, "--ws", "--duration", "1s", "--db", join(dir, "w.db")]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr.trim(), UNTRUSTED);
});

test("replay and simulate take the same TLS flags", async (t) => {
  // Verified tokens: the simulated plugins' tenant scopes are the API sends' tenants.
  const secret = "tls-sim-secret";
  const { srv, cert, dir } = await httpsGxp(t, ["--jwt-secret", secret]);
  const db = join(dir, "replay.db");
  const auth = JSON.stringify({ token: hs256(secret, { sub: "u1", tenantId: "acme" }) });
  const rec = await run(["record", srv.url, "--duration", "1500ms", "--db", db, "--ca-cert", cert, "--auth", auth, "--emit", 'subscribe={"channel":"x"}']);
  assert.equal(rec.code, 0, rec.stderr);

  const replayed = await run(["replay", "1", "--target", srv.url, "--db", db, "--ca-cert", cert, "--auth", auth, "--json"]);
  assert.equal(replayed.code, 0, replayed.stderr);
  assert.equal(JSON.parse(replayed.stdout).sent, 1);
  const refused = await run(["replay", "1", "--target", srv.url, "--db", db, "--auth", auth]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr.trim(), /TLS certificate not trusted \(self-signed certificate\)/);

  const sim = (extra) => run(["simulate", "gxp-plugins", "--target", srv.url, "--clients", "2", "--ramp", "200ms", "--duration", "3s",
    "--jwt-secret", secret, "--api-token", srv.apiToken, "--json", ...extra]);
  const good = await sim(["--ca-cert", cert]);
  assert.equal(good.code, 0, good.stderr);
  const report = JSON.parse(good.stdout);
  assert.equal(report.connected, 2);
  const checkIns = report.events.find((e) => e.event === "AttendeeCheckedIn");
  assert.ok(checkIns && checkIns.received > 0, JSON.stringify(report.events));
  assert.ok(report.events.find((e) => e.event === "POST /templates/send").sent > 0);
  const bad = JSON.parse((await sim([])).stdout);
  assert.equal(bad.connected, 0);
  assert.equal(bad.failed, 2);
  assert.ok(bad.errors_by_kind.some((e) => e.kind === "unreachable"), JSON.stringify(bad.errors_by_kind));
});

test("mutual TLS: a server that requires a client certificate accepts --client-cert/--client-key and refuses without", async (t) => {
  const server = makeCert();
  const client = makeCert("sockscope-client");
  const https = createServer({
    key: readFileSync(server.key),
    cert: readFileSync(server.cert),
    ca: readFileSync(client.cert),
    requestCert: true,
    rejectUnauthorized: true,
  });
  const io = new Server(https);
  const seen = [];
  io.on("connection", (s) => seen.push(s.conn.request.socket.getPeerCertificate().subject.CN));
  await withTimeout(new Promise((r) => https.listen(0, "127.0.0.1", r)), "https listen");
  t.after(() => { io.close(); https.close(); });
  const url = `https://127.0.0.1:${https.address().port}`;

  const withCert = await run(["record", url, "--transport", "websocket", "--duration", "1s", "--db", join(server.dir, "m.db"),
    "--ca-cert", server.cert, "--client-cert", client.cert, "--client-key", client.key]);
  assert.equal(withCert.code, 0, withCert.stderr);
  assert.deepEqual(seen, ["sockscope-client"]);

  const without = await run(["connect", url, "--transport", "websocket", "--no-reconnect", "--ca-cert", server.cert]);
  assert.equal(without.code, 2);
  assert.equal(without.stderr.trim().split("\n").length, 1, without.stderr);
  assert.deepEqual(seen, ["sockscope-client"], "a client without a certificate got in");

  const half = await run(["connect", url, "--client-cert", client.cert]);
  assert.equal(half.code, 2);
  assert.match(half.stderr, /--client-key/);
});

test("admin over HTTPS: --ca-cert reaches an instrumented Node server, nothing is refused naming the certificate", async (t) => {
  const { instrument } = await import("@socket.io/admin-ui");
  const c = makeCert();
  const https = createServer({ key: readFileSync(c.key), cert: readFileSync(c.cert) });
  const io = new Server(https, { cors: { origin: "*" } });
  instrument(io, { auth: false, mode: "development" });
  await withTimeout(new Promise((r) => https.listen(0, "127.0.0.1", r)), "https listen");
  t.after(() => { io.close(); https.close(); });
  const url = `https://127.0.0.1:${https.address().port}`;

  const ok = await run(["admin", url, "--no-auth", "--ca-cert", c.cert, "inspect", "--json"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(JSON.parse(ok.stdout), ok.stdout);
  const insecure = await run(["admin", url, "--no-auth", "--insecure", "inspect", "--json"]);
  assert.equal(insecure.code, 0, insecure.stderr);
  assert.match(insecure.stderr, INSECURE);
  const refused = await run(["admin", url, "--no-auth", "inspect"]);
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
  assert.match(refused.stderr, /TLS certificate not trusted \(self-signed certificate\)/);
});
