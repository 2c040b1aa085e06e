// The redaction policy end to end (issue 9, point 4): a real Node socket.io 4.8 server
// sends events and ack replies carrying every secret form (a query token in the URL,
// userinfo, `accessToken`, `apiKey`, `x-api-key`, a nested `password`, an
// `Authorization` value, a JWT inside free text, `Bearer x`, `password=...` in text, a
// `--redact-key` key); `sockscope record` (auth from `--auth @FILE`), `replay` (auth
// from SOCKSCOPE_AUTH), JSON Lines and HAR imports carrying secrets, `sessions list`,
// `sessions show` and both exports all run at RUST_LOG=debug. None of the secret
// values may appear in the database file, its -wal (snapshotted while the recorder
// writes), either export, or any stdout or stderr. Positive controls: the server did
// receive each credential, and the non-secret fields of the same events are in the
// database, the exports and the output, so the test cannot pass on an empty recording.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "socket.io";
import { hs256, sockscopeBin, withTimeout } from "./harness.mjs";
import { SECRETS as HAR_FIXTURE_SECRETS } from "./capture-har.mjs";

const HAR_FIXTURE = new URL("./fixtures/dashboard.har", import.meta.url).pathname;

// Every value here must never leave the network path. Each is distinct, so a hit
// names the path that leaked it.
const S = {
  query: "qv-SECRET-query-01",
  userinfo: "ui-SECRET-pass-02",
  authFile: "af-SECRET-authfile-03",
  authEnv: "ae-SECRET-authenv-04",
  header: "hd-SECRET-bearer-05",
  headerKey: "hk-SECRET-apikey-06",
  queryFlag: "qf-SECRET-apikey-07",
  accessToken: "at-SECRET-access-08",
  apiKey: "ak-SECRET-apikey-09",
  xApiKey: "xk-SECRET-xapikey-10",
  userPassword: "up-SECRET-userpw-11",
  password: "pw-SECRET-nested-12",
  authorization: "az-SECRET-authz-13",
  bearer: "br-SECRET-bearer-14",
  kvText: "kv-SECRET-text-15",
  linkToken: "lt-SECRET-link-16",
  refresh: "rt-SECRET-refresh-17",
  cookie: "ck-SECRET-cookie-18",
  custom: "cu-SECRET-custom-19",
  emitPw: "ep-SECRET-emit-20",
  ackAccess: "aa-SECRET-ackaccess-21",
  ackBearer: "ab-SECRET-ackbearer-22",
  importPw: "ip-SECRET-importpw-23",
  importAck: "ia-SECRET-importack-24",
  replayQuery: "rq-SECRET-replayq-25",
  harUser: "hu-SECRET-haruser-26",
  harQuery: "hq-SECRET-harq-27",
  harConnect: "hc-SECRET-harconnect-28",
  harPw: "hp-SECRET-harpw-29",
  harAck: "ha-SECRET-harack-30",
  // JWTs: the whole token and its signature must both be gone.
  jwt: hs256("jwt-signing-key", { sub: "ann", note: "jwt-in-text" }),
  ackJwt: hs256("jwt-signing-key", { sub: "ann", note: "jwt-in-ack" }),
  harJwt: hs256("jwt-signing-key", { sub: "ann", note: "jwt-in-har" }),
  ...Object.fromEntries(Object.entries(HAR_FIXTURE_SECRETS).map(([k, v]) => [`fixture_${k}`, v])),
};
const jwtSignatures = Object.fromEntries(
  ["jwt", "ackJwt", "harJwt"].map((k) => [`${k}_signature`, S[k].split(".")[2]]),
);
const ALL_SECRETS = { ...S, ...jwtSignatures };

/** A server event: every secret form next to ordinary fields. */
function payload(handshakeUrl) {
  return {
    user: "PUBLIC-user-ann",
    theme: "PUBLIC-theme-dark",
    accessToken: S.accessToken,
    apiKey: S.apiKey,
    "x-api-key": S.xApiKey,
    userPassword: S.userPassword,
    tenantSig: S.custom,
    settings: { db: { password: S.password, host: "PUBLIC-db-host" } },
    headers: { Authorization: `Basic ${S.authorization}`, Accept: "PUBLIC-accept" },
    note: `PUBLIC-note your token is ${S.jwt} ok`,
    auth: `Bearer ${S.bearer}`,
    text: `PUBLIC-text password=${S.kvText} done`,
    link: `http://127.0.0.1/cb?access_token=${S.linkToken}&page=PUBLIC-page-2`,
    list: [{ refresh_token: S.refresh }, { cookie: S.cookie }, "PUBLIC-list-item"],
    // The server echoes the URL it was reached at: the query token comes back.
    seenUrl: handshakeUrl,
  };
}

function ackPayload() {
  return {
    ok: "PUBLIC-ack-ok",
    accessToken: S.ackAccess,
    id_token: S.ackJwt,
    note: `PUBLIC-ack-note Bearer ${S.ackBearer}`,
  };
}

/** The gateway under test; `seen` proves each credential really reached it. */
async function startServer() {
  const http = createServer();
  const io = new Server(http);
  const seen = { userinfo: false, authFile: false, authEnv: false, header: false, headerKey: false, query: false, replayQuery: false, queryFlag: false };
  io.use((socket, next) => {
    const { auth, headers, query } = socket.handshake;
    if (auth?.token === S.authFile) seen.authFile = true;
    else if (auth?.token === S.authEnv) seen.authEnv = true;
    else return next(new Error("unauthorized"));
    if (headers.authorization === `Bearer ${S.header}`) seen.header = true;
    // URL userinfo reaches the server as Basic auth (rust_socketio's HTTP client).
    if (headers.authorization === `Basic ${Buffer.from(`user:${S.userinfo}`).toString("base64")}`) seen.userinfo = true;
    if (headers["x-api-key"] === S.headerKey) seen.headerKey = true;
    if (query.token === S.query) seen.query = true;
    if (query.token === S.replayQuery) seen.replayQuery = true;
    if (query.apikey === S.queryFlag) seen.queryFlag = true;
    next();
  });
  io.on("connection", (socket) => {
    socket.emit("profile", payload(socket.handshake.url));
    socket.on("subscribe", () => socket.emit("update", payload(socket.handshake.url)));
    socket.on("login", (...args) => {
      const ack = typeof args.at(-1) === "function" ? args.pop() : null;
      ack?.(ackPayload());
    });
  });
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { io, http, seen, port: http.address().port };
}

const DEBUG_ENV = { RUST_LOG: "debug" };

/** `sockscope ARGS` with extra environment; every run's output is kept for the grep. */
function sockscope(outputs, args, env = {}, { onStdout } = {}) {
  const child = spawn(sockscopeBin(), args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SOCKSCOPE_AUTH: "", ...DEBUG_ENV, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
    onStdout?.(stdout);
  });
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise((resolve) =>
    child.on("close", (code) => {
      outputs.push({ what: `sockscope ${args[0]} ${args[1] ?? ""}`, stdout, stderr });
      resolve({ code, stdout, stderr });
    }),
  );
  return withTimeout(done, `sockscope ${args.join(" ")}`, 60_000);
}

function assertNoSecret(what, bytes) {
  for (const [name, secret] of Object.entries(ALL_SECRETS)) {
    assert.ok(!bytes.includes(secret), `secret ${name} (${secret}) found in ${what}`);
  }
}

test("redaction: no secret form reaches the database, its WAL, exports, stdout or stderr", async (t) => {
  const server = await startServer();
  t.after(() => {
    server.io.close();
    server.http.close();
  });
  const dir = mkdtempSync(join(tmpdir(), "sockscope-redact-"));
  const db = join(dir, "redact.db");
  const outputs = [];
  const files = [];

  // 1. record: auth from a file, a token in the URL, headers, the query and an emit.
  const authFile = join(dir, "auth.json");
  writeFileSync(authFile, `${JSON.stringify({ token: S.authFile })}\n`);
  const url = `http://127.0.0.1:${server.port}/?token=${S.query}&channel=PUBLIC-chan`;
  let snapshotted = false;
  const snapshot = () => {
    // The recorder's WAL exists while it writes: keep a copy of it and the database.
    for (const f of [db, `${db}-wal`]) {
      if (existsSync(f)) {
        const copy = join(dir, `snapshot-${f.endsWith("-wal") ? "wal" : "db"}`);
        copyFileSync(f, copy);
        files.push({ what: `${f} while recording`, path: copy });
      }
    }
  };
  const rec = await sockscope(outputs, [
    "record", url, "--auth", `@${authFile}`,
    "--header", `Authorization: Bearer ${S.header}`, "--header", `X-Api-Key: ${S.headerKey}`,
    "--query", `apikey=${S.queryFlag}`,
    "--emit", `subscribe=${JSON.stringify({ room: "PUBLIC-room", password: S.emitPw })}`,
    "--redact-key", "tenantSig", "--duration", "3s", "--db", db,
  ], {}, {
    onStdout: (out) => {
      if (!snapshotted && out.includes(" update ")) {
        snapshotted = true;
        setTimeout(snapshot, 300);
      }
    },
  });
  assert.equal(rec.code, 0, rec.stderr);
  assert.ok(snapshotted, `the update event never showed: ${rec.stdout}`);
  assert.ok(files.some((f) => f.what.includes("-wal")), "no WAL to snapshot while recording");
  // The credentials did go over the wire: the redaction is what keeps them out.
  for (const k of ["authFile", "header", "headerKey", "query", "queryFlag"]) assert.ok(server.seen[k], `server never saw ${k}`);
  assert.match(rec.stdout, /PUBLIC-theme-dark/);
  assert.match(rec.stdout, /PUBLIC-page-2/, "a payload URL keeps its non-secret query values");
  assert.match(rec.stderr, /connected/, "RUST_LOG=debug shows the connect line");
  assert.ok(rec.stderr.includes(`127.0.0.1:${server.port}/?token=[redacted]`), rec.stderr);

  // 2. imports carrying secrets: JSON Lines (args and an ack reply), two HAR files.
  const jsonl = join(dir, "in.jsonl");
  writeFileSync(jsonl, `${JSON.stringify({
    seq: 1, ts: 1_700_000_000_000_000, source: "connection:1", direction: "c2s", namespace: "/", event: "login",
    args: [{ user: "PUBLIC-import-user", password: S.importPw, tenantSig: S.custom }],
    ack: { id: 1, reply: { ok: "PUBLIC-import-ok", accessToken: S.importAck } },
  })}\n`);
  const impJsonl = await sockscope(outputs, ["sessions", "import", jsonl, "--db", db, "--json", "--redact-key", "tenantSig"]);
  assert.equal(impJsonl.code, 0, impJsonl.stderr);
  const jsonlId = JSON.parse(impJsonl.stdout).id;

  const har = join(dir, "in.har");
  const m = (type, time, data) => ({ type, time, opcode: 1, data });
  writeFileSync(har, JSON.stringify({ log: { version: "1.2", entries: [{
    request: {
      method: "GET",
      url: `ws://user:${S.harUser}@127.0.0.1:9/socket.io/?EIO=4&transport=websocket&token=${S.harQuery}`,
      headers: [{ name: "Authorization", value: `Bearer ${S.harQuery}` }],
    },
    _webSocketMessages: [
      m("send", 1.0, `40${JSON.stringify({ token: S.harConnect })}`),
      m("receive", 1.1, `40${JSON.stringify({ sid: "PUBLIC-sid" })}`),
      m("send", 1.2, `421${JSON.stringify(["login", { password: S.harPw, user: "PUBLIC-har-user" }])}`),
      m("receive", 1.3, `431${JSON.stringify([{ accessToken: S.harAck, ok: "PUBLIC-har-ok", note: `jwt ${S.harJwt}` }])}`),
    ],
  }] } }));
  for (const f of [har, HAR_FIXTURE]) {
    const imp = await sockscope(outputs, ["sessions", "import", f, "--db", db, "--json"]);
    assert.equal(imp.code, 0, imp.stderr);
  }

  // 3. replay the imported login against the server: auth from SOCKSCOPE_AUTH (a bare
  // token), userinfo and a query token in --target; the live ack reply carries secrets.
  const replay = await sockscope(outputs, [
    "replay", String(jsonlId), "--target", `http://user:${S.userinfo}@127.0.0.1:${server.port}/?token=${S.replayQuery}`,
    "--json", "--db", db, "--settle", "200ms",
  ], { SOCKSCOPE_AUTH: S.authEnv, SOCKSCOPE_REDACT_KEYS: "tenantSig" });
  assert.equal(replay.code, 0, replay.stderr);
  for (const k of ["authEnv", "replayQuery", "userinfo"]) assert.ok(server.seen[k], `server never saw ${k}`);
  const report = JSON.parse(replay.stdout);
  assert.equal(report.ack_mismatches.length, 1, replay.stdout);
  assert.equal(report.ack_mismatches[0].received.ok, "PUBLIC-ack-ok", "the live reply is in the report");
  assert.equal(report.target, `http://127.0.0.1:${server.port}/?token=[redacted]`);

  // 4. list, show and export every session both ways.
  const list = await sockscope(outputs, ["sessions", "list", "--db", db]);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes(`http://127.0.0.1:${server.port}/?token=[redacted]`), list.stdout);
  const listed = await sockscope(outputs, ["sessions", "list", "--db", db, "--json"]);
  const sessions = JSON.parse(listed.stdout);
  assert.equal(sessions.length, 5, listed.stdout);
  for (const s of sessions) {
    const show = await sockscope(outputs, ["sessions", "show", String(s.id), "--db", db]);
    assert.equal(show.code, 0, show.stderr);
    for (const format of ["jsonl", "har"]) {
      const out = join(dir, `export-${s.id}.${format}`);
      const exp = await sockscope(outputs, ["sessions", "export", String(s.id), "--format", format, "-o", out, "--db", db]);
      assert.equal(exp.code, 0, exp.stderr);
      files.push({ what: `${format} export of session ${s.id} (${s.kind})`, path: out });
    }
  }

  // Positive controls: the ordinary fields are there, so the checks below mean something.
  const recordId = sessions.find((s) => s.kind === "connection").id;
  const replayId = sessions.find((s) => s.kind === "replay").id;
  const text = (p) => readFileSync(p, "utf8");
  const recJsonl = text(join(dir, `export-${recordId}.jsonl`));
  for (const want of ["PUBLIC-theme-dark", "PUBLIC-db-host", "PUBLIC-note your token is [redacted] ok", "Bearer [redacted]",
    "PUBLIC-text password=[redacted] done", "PUBLIC-page-2", "PUBLIC-room", "PUBLIC-list-item", "PUBLIC-accept"]) {
    assert.ok(recJsonl.includes(want), `${want} missing from the record's JSONL export`);
  }
  assert.ok(text(join(dir, `export-${recordId}.har`)).includes("PUBLIC-theme-dark"));
  assert.ok(text(join(dir, `export-${replayId}.jsonl`)).includes("PUBLIC-ack-ok"), "the replay's ack reply was recorded");
  const dbBytes = readFileSync(db);
  for (const want of ["PUBLIC-theme-dark", "PUBLIC-import-user", "PUBLIC-import-ok", "PUBLIC-har-user", "PUBLIC-har-ok", "PUBLIC-ack-ok", "[redacted]"]) {
    assert.ok(dbBytes.includes(want), `${want} missing from the database`);
  }

  // The grep: database, WAL (final and snapshot), exports, every stdout and stderr.
  files.push({ what: "the database", path: db });
  if (existsSync(`${db}-wal`)) files.push({ what: "the final WAL", path: `${db}-wal` });
  for (const f of files) assertNoSecret(f.what, readFileSync(f.path));
  for (const o of outputs) {
    assertNoSecret(`stdout of ${o.what}`, o.stdout);
    assertNoSecret(`stderr of ${o.what}`, o.stderr);
  }
  assert.ok(outputs.some((o) => /DEBUG/.test(o.stderr)), "RUST_LOG=debug produced no debug lines");
});

test("redaction: --auth @FILE and SOCKSCOPE_AUTH problems are one-line errors that never quote the secret", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-redact-"));
  const outputs = [];
  const bad = join(dir, "bad.json");
  writeFileSync(bad, `{"token": "${S.authFile}"`);
  const empty = join(dir, "empty.json");
  writeFileSync(empty, "\n");
  const cases = [
    [["connect", "http://127.0.0.1:1", "--no-reconnect", "--auth", `@${bad}`], {}, /bad JSON in --auth file/],
    [["connect", "http://127.0.0.1:1", "--no-reconnect", "--auth", `@${empty}`], {}, /--auth file .* is empty/],
    [["connect", "http://127.0.0.1:1", "--no-reconnect", "--auth", `@${join(dir, "missing.json")}`], {}, /missing\.json/],
    [["connect", "http://127.0.0.1:1", "--no-reconnect"], { SOCKSCOPE_AUTH: `{"token": "${S.authEnv}"` }, /bad JSON in SOCKSCOPE_AUTH/],
    // A bare token in SOCKSCOPE_AUTH is fine: the run gets as far as the network.
    [["connect", `http://u:${S.userinfo}@127.0.0.1:1/?token=${S.query}`, "--no-reconnect"], { SOCKSCOPE_AUTH: S.authEnv }, /cannot reach http:\/\/127\.0\.0\.1:1\/\?token=\[redacted\]/],
  ];
  for (const [args, env, message] of cases) {
    const r = await sockscope(outputs, args, { RUST_LOG: "warn", ...env });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], message);
    assertNoSecret(`stderr of ${args.join(" ")}`, r.stderr);
  }
});
