// Issue 25, item 5: the connection doctor (`sockscope doctor URL`) against real
// servers set up each way: socket.io 2.5 (Engine.IO v3), socket.io 4.8, polling
// only, websocket only, the msgpack parser, a custom path, TLS that is not trusted,
// issued for another name or expired, CORS that refuses an origin, and auth
// middleware that refuses a missing or wrong token. Each diagnosis must name the
// cause (the check that failed and its words), and each refusal has a positive
// control that connects; where a setting is suggested, `sockscope connect` with it
// joins the server. Every wait is bounded.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";
import { run, sockscopeBin, withTimeout } from "./harness.mjs";

const require = createRequire(import.meta.url);
const ServerV2 = require("socket.io-v2");

const dir = mkdtempSync(join(tmpdir(), "sockscope-doctor-"));
const closers = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function listen(server, scheme = "http") {
  return withTimeout(new Promise((resolve) => server.listen(0, "127.0.0.1", resolve)), "a test server to listen").then(
    () => `${scheme}://127.0.0.1:${server.address().port}`,
  );
}

/** A socket.io 4.8 server with `opts`; `setup(io)` adds middleware. */
async function v4Server(opts = {}, setup = () => {}, https) {
  const http = https ? createHttpsServer(https) : createServer();
  const io = new Server(http, opts);
  setup(io);
  io.on("connection", (socket) => socket.emit("hello", { from: "v4" }));
  const url = await listen(http, https ? "https" : "http");
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  return url;
}

/** Runs `sockscope doctor ARGS --json`; the parsed report, the exit code, stderr. */
async function doctor(args) {
  const r = await run(["doctor", ...args, "--json"]);
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    assert.fail(`doctor printed no JSON report (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  const check = (id) => report.checks.find((c) => c.id === id) ?? assert.fail(`no check ${id}: ${JSON.stringify(report.checks)}`);
  return { ...r, report, check };
}

function assertCheck(d, id, outcome, words) {
  const c = d.check(id);
  assert.equal(c.outcome, outcome, `${id}: ${JSON.stringify(c)}\n${JSON.stringify(d.report, null, 1)}`);
  if (words) assert.match(c.detail, words, `${id}: ${c.detail}`);
}

/** Runs `sockscope connect` with the suggested line's flags until it joins. */
function connectsWith(line) {
  const args = line.replace(/^sockscope connect /, "").match(/'[^']*'|\S+/g).map((a) => a.replace(/^'(.*)'$/, "$1"));
  return { args, joined: (extra = {}) => connectUntilJoined(args, extra) };
}

function connectUntilJoined(args, { replace = {} } = {}) {
  const real = args.map((a) => replace[a] ?? a);
  const child = spawn(sockscopeBin(), ["connect", ...real, "--no-reconnect"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const done = new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  child.stderr.on("data", (d) => (stderr += d));
  const seen = new Promise((resolve) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      if (/hello/.test(stdout)) resolve();
    });
  });
  return withTimeout(Promise.race([seen, done]), `connect ${real.join(" ")}`)
    .then(async () => {
      child.kill("SIGINT");
      const r = await withTimeout(done, "connect to stop");
      assert.match(r.stdout, /hello/, `connect ${real.join(" ")} did not join: ${r.stderr}`);
      return r;
    })
    .catch((e) => {
      child.kill("SIGKILL");
      throw new Error(`${e.message}\nstdout: ${stdout}\nstderr: ${stderr}`);
    });
}

// ------------------------------------------------------------------ revisions
test("socket.io 4.8: v4 over polling and websocket, JSON, no flags needed; the human output lists every check", async () => {
  const url = await v4Server();
  const d = await doctor([url]);
  assert.equal(d.code, 0, d.stderr);
  assertCheck(d, "reach", "ok", /accepts TCP connections/);
  assertCheck(d, "path", "ok", /answers Engine\.IO at \/socket\.io\//);
  assertCheck(d, "polling_v4", "ok");
  assertCheck(d, "websocket_v4", "ok");
  assertCheck(d, "polling_v3", "fail", /does not speak Engine\.IO v3/);
  assertCheck(d, "parser_json", "ok");
  assertCheck(d, "namespace", "ok", /joined \//);
  assertCheck(d, "auth", "ok", /asked for no auth/);
  assertCheck(d, "cors", "skipped");
  assert.deepEqual(
    { eio: d.report.works.eio, transport: d.report.works.transport, parser: d.report.works.parser },
    { eio: 4, transport: "any", parser: "json" },
  );
  assert.equal(d.report.connect_with, `sockscope connect ${url}`);

  const human = await run(["doctor", url]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^✓ Engine\.IO v4 over polling: the server answers the v4 handshake over polling$/m);
  assert.match(human.stdout, /^✗ Engine\.IO v3 over polling: /m);
  assert.match(human.stdout, /^- CORS: /m);
  assert.match(human.stdout, new RegExp(`^Connect with: sockscope connect ${url}$`, "m"));
  await connectsWith(d.report.connect_with).joined();
});

test("socket.io 2.5: the v4 handshakes get a v3 answer, so the doctor says Socket.IO 2.x and --eio 3", async () => {
  const http = createServer();
  const io = ServerV2(http);
  io.on("connection", (socket) => socket.emit("hello", { from: "v2" }));
  const url = await listen(http);
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  const d = await doctor([url]);
  assert.equal(d.code, 0, d.stderr);
  assertCheck(d, "polling_v4", "fail", /answered with an Engine\.IO v3 handshake: it is a Socket\.IO 2\.x server/);
  assertCheck(d, "polling_v3", "ok");
  assertCheck(d, "websocket_v3", "ok");
  assertCheck(d, "namespace", "ok");
  assert.equal(d.report.works.eio, 3);
  assert.match(d.report.summary, /Engine\.IO v3 \(Socket\.IO 2\.x\)/);
  assert.equal(d.report.connect_with, `sockscope connect ${url} --eio 3`);
  await connectsWith(d.report.connect_with).joined();
});

// ----------------------------------------------------------------- transports
test("polling only: websocket is not offered, the doctor says so and suggests --transport polling", async () => {
  const url = await v4Server({ transports: ["polling"] });
  const d = await doctor([url]);
  assert.equal(d.code, 0, d.stderr);
  assertCheck(d, "polling_v4", "ok");
  assertCheck(d, "websocket_v4", "fail", /does not offer websocket .*Transport unknown/);
  assertCheck(d, "parser_json", "ok");
  assert.equal(d.report.works.transport, "polling");
  assert.equal(d.report.connect_with, `sockscope connect ${url} --transport polling`);
  await connectsWith(d.report.connect_with).joined();
});

test("websocket only: polling is refused as an unknown transport, the doctor suggests --transport websocket", async () => {
  const url = await v4Server({ transports: ["websocket"] });
  const d = await doctor([url]);
  assert.equal(d.code, 0, d.stderr);
  assertCheck(d, "polling_v4", "fail", /does not offer polling .*Transport unknown/);
  assertCheck(d, "websocket_v4", "ok");
  assert.equal(d.report.works.transport, "websocket");
  assert.equal(d.report.connect_with, `sockscope connect ${url} --transport websocket`);
  await connectsWith(d.report.connect_with).joined();
});

// --------------------------------------------------------------------- parser
test("msgpack parser: a JSON CONNECT gets no answer, a msgpack one joins; --parser msgpack", async () => {
  const url = await v4Server({ parser: msgpackParser });
  const d = await doctor([url]);
  assert.equal(d.code, 0, d.stderr);
  assertCheck(d, "parser_json", "fail", /did not answer a CONNECT encoded with the json parser/);
  assertCheck(d, "parser_msgpack", "ok");
  assert.equal(d.report.works.parser, "msgpack");
  assert.equal(d.report.connect_with, `sockscope connect ${url} --parser msgpack`);
  await connectsWith(d.report.connect_with).joined();

  // Positive control: a JSON server is not taken for a msgpack one.
  const plain = await doctor([await v4Server()]);
  assert.equal(plain.report.works.parser, "json");
  assert.ok(!plain.report.checks.some((c) => c.id === "parser_msgpack"));
});

// ----------------------------------------------------------------------- path
test("wrong path: nothing answers at /socket.io/, the doctor says the path is wrong; the right path connects", async () => {
  const url = await v4Server({ path: "/custom/" });
  const d = await doctor([url]);
  assert.equal(d.code, 1, d.stderr);
  assertCheck(d, "path", "fail", /nothing speaks Engine\.IO at \/socket\.io\/ .*the path is wrong/);
  assert.equal(d.report.works, undefined);
  assert.match(d.stderr, /^sockscope: nothing connects: nothing speaks Engine\.IO at \/socket\.io\//m);

  // A common alternative path is found by itself.
  const io = await v4Server({ path: "/socket/" });
  const found = await doctor([io]);
  assert.equal(found.code, 0, found.stderr);
  assertCheck(found, "path", "fail", /nothing speaks Engine\.IO at \/socket\.io\/ .*the server answers at \/socket\/: use that path/);
  assert.equal(found.report.connect_with, `sockscope connect ${io}/socket/`);

  // Positive control: the right path, in the URL or with --path.
  for (const args of [[`${url}/custom/`], [url, "--path", "/custom"]]) {
    const ok = await doctor(args);
    assert.equal(ok.code, 0, ok.stderr);
    assertCheck(ok, "path", "ok", /answers Engine\.IO at \/custom\//);
    assert.equal(ok.report.connect_with, `sockscope connect ${url}/custom/`);
  }
  await connectsWith(`sockscope connect ${url}/custom/`).joined();
});

// ------------------------------------------------------------------------ TLS
function openssl(args) {
  execFileSync("openssl", args, { stdio: "ignore" });
}

/** A CA, and leaves it signs with a chosen name and validity dates. */
function makeCa() {
  const ca = { cert: join(dir, "ca.pem"), key: join(dir, "ca.key") };
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", ca.key, "-out", ca.cert, "-subj", "/CN=doctor test CA"]);
  return ca;
}

let leaves = 0;
function makeLeaf(ca, { san, start, end }) {
  const n = ++leaves;
  const d = mkdtempSync(join(dir, `leaf${n}-`));
  writeFileSync(join(d, "index.txt"), "");
  writeFileSync(join(d, "serial"), `${String(1000 + n)}\n`);
  const conf = join(d, "ca.cnf");
  writeFileSync(conf, [
    "[ca]", "default_ca = here", "[here]", `database = ${join(d, "index.txt")}`, `new_certs_dir = ${d}`,
    `serial = ${join(d, "serial")}`, "default_md = sha256", "policy = any", "copy_extensions = copy",
    "unique_subject = no", "[any]", "commonName = supplied", "",
  ].join("\n"));
  const leaf = { key: join(d, "key.pem"), cert: join(d, "cert.pem") };
  const csr = join(d, "req.csr");
  openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", leaf.key, "-out", csr, "-subj", "/CN=doctor leaf", "-addext", `subjectAltName=${san}`]);
  openssl(["ca", "-batch", "-config", conf, "-cert", ca.cert, "-keyfile", ca.key, "-in", csr, "-out", leaf.cert, "-startdate", start, "-enddate", end]);
  return leaf;
}

function selfSigned(san) {
  const d = mkdtempSync(join(dir, "self-"));
  const c = { key: join(d, "key.pem"), cert: join(d, "cert.pem") };
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", c.key, "-out", c.cert, "-subj", "/CN=doctor self", "-addext", `subjectAltName=${san}`]);
  return c;
}

const tlsServer = (c) => v4Server({}, () => {}, { key: readFileSync(c.key), cert: readFileSync(c.cert) });
const stamp = (d) => d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";

test("TLS not trusted: a self-signed certificate is named as such; it connects with --insecure or --ca-cert", async () => {
  const c = selfSigned("IP:127.0.0.1");
  const url = await tlsServer(c);
  const d = await doctor([url]);
  assert.equal(d.code, 0, d.stderr);
  assertCheck(d, "tls_chain", "fail", /self-signed and not trusted: pass --ca-cert/);
  assertCheck(d, "tls_expiry", "ok");
  assertCheck(d, "tls_name", "ok", /issued for 127\.0\.0\.1/);
  assert.equal(d.report.works.insecure, true);
  assert.equal(d.report.connect_with, `sockscope connect ${url} --insecure`);

  // Positive control: trusted with --ca-cert, every TLS check passes.
  const ok = await doctor([url, "--ca-cert", c.cert]);
  assert.equal(ok.code, 0, ok.stderr);
  assertCheck(ok, "tls_chain", "ok", /trusted/);
  assertCheck(ok, "tls_expiry", "ok");
  assertCheck(ok, "tls_name", "ok");
  assert.equal(ok.report.connect_with, `sockscope connect ${url} --ca-cert ${c.cert}`);
  await connectsWith(ok.report.connect_with).joined();
});

test("TLS issued for another name: the name check fails, with or without the issuer trusted", async () => {
  const ca = makeCa();
  const now = Date.now();
  const leaf = makeLeaf(ca, { san: "DNS:wrong.example", start: stamp(new Date(now - 3600e3)), end: stamp(new Date(now + 86400e3)) });
  const url = await tlsServer(leaf);
  const d = await doctor([url, "--ca-cert", ca.cert]);
  assert.equal(d.code, 0, d.stderr);
  assertCheck(d, "tls_chain", "ok");
  assertCheck(d, "tls_name", "fail", /not issued for 127\.0\.0\.1/);
  assertCheck(d, "tls_expiry", "ok");
  assert.match(d.report.connect_with, / --insecure$/);

  // Untrusted issuer: the chain is what fails first; the rest cannot be told.
  const untrusted = await doctor([url]);
  assertCheck(untrusted, "tls_chain", "fail", /issued by an authority this machine does not trust/);
  assertCheck(untrusted, "tls_name", "skipped");

  // A self-signed certificate for another name: both problems are reported.
  const both = selfSigned("DNS:wrong.example");
  const bothUrl = await tlsServer(both);
  const b = await doctor([bothUrl]);
  assertCheck(b, "tls_chain", "fail", /self-signed/);
  assertCheck(b, "tls_name", "fail", /not issued for 127\.0\.0\.1/);

  // Positive control: the same CA with a leaf for 127.0.0.1 passes the name check.
  const right = makeLeaf(ca, { san: "IP:127.0.0.1", start: stamp(new Date(now - 3600e3)), end: stamp(new Date(now + 86400e3)) });
  const ok = await doctor([await tlsServer(right), "--ca-cert", ca.cert]);
  assertCheck(ok, "tls_name", "ok");
  assert.equal(ok.report.works.insecure, false);
});

test("TLS expired: the dates check fails and says the server needs a new certificate", async () => {
  const ca = makeCa();
  const leaf = makeLeaf(ca, { san: "IP:127.0.0.1", start: "20200101000000Z", end: "20200102000000Z" });
  const d = await doctor([await tlsServer(leaf), "--ca-cert", ca.cert]);
  assert.equal(d.code, 0, d.stderr);
  assertCheck(d, "tls_chain", "ok");
  assertCheck(d, "tls_expiry", "fail", /has expired/);
  assertCheck(d, "tls_name", "ok");
  assert.equal(d.report.works.insecure, true);
});

// ----------------------------------------------------------------------- CORS
test("CORS: an origin outside the server's allowlist is refused, a listed one passes", async () => {
  const url = await v4Server({ cors: { origin: ["https://good.example"] } });
  const refused = await doctor([url, "--origin", "https://evil.example"]);
  assertCheck(refused, "cors", "fail", /does not allow origin https:\/\/evil\.example.*no Access-Control-Allow-Origin/);
  assert.match(refused.report.summary, /but from a browser: the server does not allow origin https:\/\/evil\.example/);
  const allowed = await doctor([url, "--origin", "https://good.example"]);
  assertCheck(allowed, "cors", "ok", /allows origin https:\/\/good\.example \(Access-Control-Allow-Origin: https:\/\/good\.example\)/);
});

// ----------------------------------------------------------------------- auth
test("auth refused: no token and a wrong token are told apart; the right token connects", async () => {
  const url = await v4Server({}, (io) =>
    io.use((socket, next) => (socket.handshake.auth.token === "right-token" ? next() : next(new Error("not authorized")))),
  );
  const none = await doctor([url]);
  assert.equal(none.code, 1);
  assertCheck(none, "namespace", "ok");
  assertCheck(none, "auth", "fail", /refused the connection: "not authorized"\. No auth was sent: pass a token/);
  assert.match(none.stderr, /nothing connects: the server refused the connection: "not authorized"/);

  const wrong = await doctor([url, "--token", "wrong-token"]);
  assert.equal(wrong.code, 1);
  assertCheck(wrong, "auth", "fail", /"not authorized"\. Auth was sent \(auth\.token\): the token is wrong/);

  const right = await doctor([url, "--token", "right-token"]);
  assert.equal(right.code, 0, right.stderr);
  assertCheck(right, "auth", "ok", /accepted the auth sent \(auth\.token\)/);
  assert.equal(right.report.connect_with, `sockscope connect ${url} --auth '{"token":"…"}'`);
  assert.doesNotMatch(JSON.stringify(right.report), /right-token/);
  await connectsWith(right.report.connect_with).joined({ replace: { '{"token":"…"}': '{"token":"right-token"}' } });

  // --auth JSON works the same way.
  const json = await doctor([url, "--auth", '{"token":"right-token"}']);
  assert.equal(json.code, 0, json.stderr);
});

test("auth on socket.io 2.5: the token travels in the handshake query; without it the refusal is named", async () => {
  const http = createServer();
  const io = ServerV2(http);
  io.use((socket, next) => (socket.handshake.query.token === "v2-token" ? next() : next(new Error("bad token"))));
  io.on("connection", (socket) => socket.emit("hello", { from: "v2" }));
  const url = await listen(http);
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  const none = await doctor([url]);
  assert.equal(none.code, 1);
  assertCheck(none, "auth", "fail", /"bad token"\. No auth was sent/);
  const right = await doctor([url, "--token", "v2-token"]);
  assert.equal(right.code, 0, right.stderr);
  assertCheck(right, "auth", "ok", /token, in the handshake query as Socket\.IO 2\.x expects/);
  assert.equal(right.report.connect_with, `sockscope connect ${url} --eio 3 --auth '{"token":"…"}'`);
});

test("a namespace the server does not have is named as the problem", async () => {
  const url = await v4Server();
  const d = await doctor([url, "--namespace", "/nope"]);
  assert.equal(d.code, 1);
  assertCheck(d, "namespace", "fail", /no namespace \/nope \(it answered "Invalid namespace"\)/);
});

// ------------------------------------------------------------ reach and input
test("nothing listening is said in words; bad input is one line and exit 2", async () => {
  const closed = createNetServer();
  const url = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));
  const d = await doctor([url]);
  assert.equal(d.code, 1);
  assertCheck(d, "reach", "fail", /nothing listens on 127\.0\.0\.1:\d+ \(connection refused\)/);

  for (const args of [["ftp://x"], ["http://127.0.0.1:1", "--namespace", "nope"], ["http://127.0.0.1:1", "--auth", "{bad"], ["http://127.0.0.1:1", "--ca-cert", join(dir, "missing.pem")]]) {
    const r = await run(["doctor", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout} ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^sockscope: error: /);
  }
});
