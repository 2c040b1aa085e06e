// Issue 14, the client protocols: Sockscope's connections against real npm peers it
// could not reach with rust_socketio alone.
// - socket.io 2.5 (Engine.IO v3): --eio auto finds v3 and says so; every server event
//   is captured (catch-all), the server's ack requests are answered by --ack-reply,
//   a recording's meta names the revision, and a client replay with acks gives a
//   drift report.
// - socket.io 4.8 with socket.io-msgpack-parser: record and replay with --parser
//   msgpack, a binary attachment both ways (stored as the base64 marker).
// - socket.io-client 4.8 with the msgpack parser against `serve --parser msgpack`.
// - A socket.io 4.8 server that emitWithAck's: the configured reply arrives; an event
//   no rule answers is recorded as unanswered (and the server's wait times out).
// - A hostile server sending frames that do not decode: one line, exit 2, no panic.
// Every wait is bounded.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { Server } from "socket.io";
import { io as connectClient } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { WebSocketServer } from "ws";
import { run, serve, sockscopeBin, withTimeout } from "./harness.mjs";

const require = createRequire(import.meta.url);
const ServerV2 = require("socket.io-v2");

const dir = mkdtempSync(join(tmpdir(), "sockscope-protocols-"));
const closers = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function listen(http) {
  return withTimeout(new Promise((resolve) => http.listen(0, "127.0.0.1", resolve)), "a test server to listen").then(
    () => `http://127.0.0.1:${http.address().port}`,
  );
}

async function sessionEvents(db, id) {
  const shown = await run(["sessions", "show", String(id), "--db", db, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  return shown.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

async function sessions(db) {
  const list = await run(["sessions", "list", "--db", db, "--json"]);
  assert.equal(list.code, 0, list.stderr);
  return JSON.parse(list.stdout);
}

/** Runs `sockscope ARGS` until `pattern` shows on stdout, then stops it with SIGINT. */
function runUntil(args, pattern, what) {
  const child = spawn(sockscopeBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const done = new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  const seen = new Promise((resolve) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      if (pattern.test(stdout)) resolve();
    });
    child.stderr.on("data", (d) => (stderr += d));
  });
  return withTimeout(
    Promise.race([seen, done.then(() => {})]).then(async () => {
      child.kill("SIGINT");
      return withTimeout(done, `${what} to stop`);
    }),
    what,
  ).catch((e) => {
    child.kill("SIGKILL");
    throw new Error(`${e.message}\nstdout: ${stdout}\nstderr: ${stderr}`);
  });
}

// ---------------------------------------------------------------- socket.io 2.x
async function startV2() {
  const http = createServer();
  const io = ServerV2(http, { pingInterval: 300, pingTimeout: 2000 });
  const got = { acks: [], events: [] };
  const onConnection = (socket) => {
    socket.emit("hello", { v: 2, nsp: socket.nsp.name });
    socket.emit("news", "first", { n: 1 });
    // The server asks the client a question and waits for the answer.
    socket.emit("question", { q: "ready?" }, (answer) => got.acks.push(answer));
    socket.on("echo", (data, ack) => {
      got.events.push(["echo", data]);
      if (typeof ack === "function") ack({ echoed: data, server: "v2" });
    });
    socket.on("note", (data) => got.events.push(["note", data]));
  };
  io.on("connection", onConnection);
  // A namespace that checks the handshake query (v3 has no auth object).
  io.of("/dash")
    .use((socket, next) => (socket.handshake.query.token === "t2" ? next() : next(new Error("bad token"))))
    .on("connection", onConnection);
  const url = await listen(http);
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  return { url, got };
}

test("socket.io 2.x: --eio auto speaks v3, captures every event and answers the server's ack", async () => {
  const v2 = await startV2();
  const r = await runUntil(
    ["connect", v2.url, "--json", "--no-reconnect", "--ack-reply", 'question={"ok":true}', "--emit", 'note={"from":"sockscope"}'],
    /"event":"news"[\s\S]*"event":"question"|"event":"question"[\s\S]*"event":"news"/,
    "connect to a socket.io 2 server",
  );
  assert.match(r.stderr, /speaking Engine\.IO v3 \(Socket\.IO 2\.x\) with the json parser, sockscope client/);
  const records = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const byName = Object.fromEntries(records.map((e) => [e.event, e]));
  assert.deepEqual(byName.hello.args, [{ v: 2, nsp: "/" }]);
  assert.deepEqual(byName.news.args, ["first", { n: 1 }]);
  assert.deepEqual(byName.question.ack.reply, { reply: { ok: true } });
  assert.equal(typeof byName.question.ack.id, "number");
  await withTimeout(
    (async () => {
      while (v2.got.acks.length === 0 || v2.got.events.length === 0) await new Promise((r) => setTimeout(r, 20));
    })(),
    "the v2 server to get the ack reply and the on-connect emit",
  );
  assert.deepEqual(v2.got.acks, [{ ok: true }]);
  assert.deepEqual(v2.got.events, [["note", { from: "sockscope" }]]);
});

test("socket.io 2.x: a namespace with query auth, --eio 4 refused with one line", async () => {
  const v2 = await startV2();
  const ok = await runUntil(["connect", v2.url, "-n", "/dash", "--json", "--eio", "3", "--no-reconnect", "--auth", '{"token":"t2"}'], /"event":"hello"/, "connect to /dash");
  assert.match(ok.stdout, /"namespace":"\/dash"/);
  assert.match(ok.stdout, /"hello","args":\[\{"nsp":"\/dash","v":2\}\]/);
  // No flags at all: the probe finds v3 and our client takes over (rust_socketio
  // cannot); without a rule the server's question is recorded as unanswered.
  const plain = await runUntil(["connect", v2.url, "--no-reconnect"], / question .*ack=unanswered/, "connect with no protocol flags");
  assert.match(plain.stderr, /speaking Engine\.IO v3 .*sockscope client/);
  assert.match(plain.stdout, / hello \[\{"nsp":"\/","v":2\}\]/);
  // The positive control above joined; a wrong token is refused by the server.
  const bad = await run(["connect", v2.url, "-n", "/dash", "--eio", "3", "--no-reconnect", "--auth", '{"token":"nope"}']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad token/);
  assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  const forced = await run(["connect", v2.url, "--eio", "4", "--parser", "json", "--ack-reply", "x=1", "--no-reconnect"]);
  assert.equal(forced.code, 2);
  assert.match(forced.stderr, /speaks Engine\.IO v3/);
  assert.equal(forced.stderr.trim().split("\n").length, 1, forced.stderr);
});

test("socket.io 2.x: our client reconnects after the server drops it and re-sends its on-connect emits", async () => {
  const http = createServer();
  const io = ServerV2(http, { pingInterval: 300, pingTimeout: 2000 });
  const notes = [];
  let connections = 0;
  io.on("connection", (socket) => {
    connections += 1;
    socket.on("note", (d) => notes.push(d));
    if (connections === 1) setTimeout(() => socket.disconnect(true), 150);
    else socket.emit("welcome-back", connections);
  });
  const url = await listen(http);
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  const r = await runUntil(["connect", url, "--eio", "3", "--reconnect-delay", "100", "--emit", 'note="hi"'], / welcome-back /, "the reconnection");
  assert.equal(connections, 2);
  assert.deepEqual(notes, ["hi", "hi"]);
  assert.match(r.stdout, / disconnect \["io server disconnect"\][\s\S]* connect \[\][\s\S]* welcome-back \[2\]/);
});

test("socket.io 2.x: record (meta says v3) and client replay with acks and a drift report", async () => {
  const v2 = await startV2();
  const db = join(dir, "v2.db");
  const rec = await run(["record", v2.url, "--db", db, "--name", "v2", "--count", "4", "--no-reconnect", "--ack-reply", "*=\"yes\""]);
  assert.equal(rec.code, 0, rec.stderr);
  assert.match(rec.stderr, /Engine\.IO v3/);
  const [session] = (await sessions(db)).filter((s) => s.name === "v2");
  assert.equal(session.meta.eio, 3);
  assert.equal(session.meta.client, "sockscope");
  const events = await sessionEvents(db, session.id);
  assert.deepEqual(events.slice(0, 4).map((e) => e.event), ["connect", "hello", "news", "question"]);
  assert.deepEqual(events[3].ack.reply, { reply: "yes" });

  // A production session with an acked echo, replayed against the v2 server.
  const file = join(dir, "v2-source.jsonl");
  const T0 = 1_700_000_000_000_000;
  const source = [
    { seq: 1, ts: T0, source: "connection:1", direction: "s2c", namespace: "/", event: "connect", args: [] },
    { seq: 2, ts: T0 + 1000, source: "connection:1", direction: "c2s", namespace: "/", event: "echo", args: [{ x: 1 }], ack: { id: 0, reply: { reply: { echoed: { x: 1 }, server: "v4" }, latency_ms: 3 } } },
    { seq: 3, ts: T0 + 2000, source: "connection:1", direction: "s2c", namespace: "/", event: "hello", args: [{ v: 2 }] },
  ];
  writeFileSync(file, source.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const imp = await run(["sessions", "import", file, "--db", db, "--json"]);
  assert.equal(imp.code, 0, imp.stderr);
  const { id } = JSON.parse(imp.stdout);
  const replay = await run(["replay", String(id), "--target", v2.url, "--db", db, "--json", "--as-fast-as-possible", "--ack-reply", "question=1"]);
  assert.equal(replay.code, 0, replay.stderr);
  const report = JSON.parse(replay.stdout);
  assert.equal(report.sent, 1);
  // The v2 server answered "v2" where production said "v4": that is the drift.
  assert.equal(report.ack_mismatches.length, 1, JSON.stringify(report));
  assert.deepEqual(report.ack_mismatches[0].received, { echoed: { x: 1 }, server: "v2" });
  const hello = report.events.find((e) => e.event === "hello");
  assert.deepEqual([hello.expected, hello.received], [1, 1]);
  assert.deepEqual(v2.got.events.at(-1), ["echo", { x: 1 }]);
  const replayed = (await sessions(db)).find((s) => s.id === report.replay_session);
  assert.equal(replayed.meta.eio, 3);
});

// ------------------------------------------------------- socket.io 4.8 + msgpack
async function startMsgpack() {
  const http = createServer();
  const io = new Server(http, { parser: msgpackParser });
  const got = [];
  io.on("connection", (socket) => {
    socket.emit("file", { name: "a.bin", body: Buffer.from([0, 1, 2, 255]) });
    socket.on("upload", (data, ack) => {
      got.push(data);
      if (typeof ack === "function") ack({ size: data?.body?.length ?? -1 });
    });
  });
  const url = await listen(http);
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  return { url, got };
}

let msgpackSession; // { db, id }: recorded below, replayed from the embedded gateway later

test("socket.io 4.8 + msgpack parser: record and replay, binary both ways", async () => {
  const srv = await startMsgpack();
  const db = join(dir, "msgpack.db");
  const rec = await run([
    "record", srv.url, "--parser", "msgpack", "--db", db, "--name", "mp", "--count", "3", "--no-reconnect",
    "--emit", 'upload={"body":{"_binary":"CgsM"},"n":1}',
  ]);
  assert.equal(rec.code, 0, rec.stderr);
  assert.match(rec.stderr, /Engine\.IO v4 \(Socket\.IO 3\/4\) with the msgpack parser/);
  const [session] = (await sessions(db)).filter((s) => s.name === "mp");
  assert.equal(session.meta.parser, "msgpack");
  msgpackSession = { db, id: session.id };
  const events = await sessionEvents(db, session.id);
  const file = events.find((e) => e.event === "file");
  assert.deepEqual(file.args, [{ name: "a.bin", body: { _binary: Buffer.from([0, 1, 2, 255]).toString("base64") } }]);
  await withTimeout(
    (async () => {
      while (srv.got.length === 0) await new Promise((r) => setTimeout(r, 20));
    })(),
    "the upload",
  );
  assert.ok(Buffer.isBuffer(srv.got[0].body), "the marker went out as binary");
  assert.deepEqual([...srv.got[0].body], [10, 11, 12]);

  // The replay speaks msgpack because the session says so (no --parser given).
  const replay = await run(["replay", String(session.id), "--target", srv.url, "--db", db, "--json", "--as-fast-as-possible"]);
  assert.equal(replay.code, 0, replay.stderr);
  const report = JSON.parse(replay.stdout);
  assert.equal(report.sent, 1);
  assert.equal(srv.got.length, 2);
  assert.deepEqual([...srv.got[1].body], [10, 11, 12]);
  const fileRow = report.events.find((e) => e.event === "file");
  assert.deepEqual([fileRow.expected, fileRow.received], [1, 1]);
  // Control: told to speak JSON, the msgpack server never lets the client join.
  const wrong = await run(["replay", String(session.id), "--target", srv.url, "--db", db, "--json", "--parser", "json", "--ack-reply", "x=1"]);
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /not joined|closed before the namespace was joined/);
  assert.equal(srv.got.length, 2);
});

test("socket.io-client 4.8 with the msgpack parser against serve --parser msgpack (recorded)", async () => {
  const db = join(dir, "serve-mp.db");
  const srv = await serve(["--port", "0", "--parser", "msgpack", "--record", "mp-front", "--db", db]);
  const client = connectClient(srv.url, { parser: msgpackParser, transports: ["websocket"], reconnection: false });
  try {
    await withTimeout(new Promise((resolve, reject) => { client.on("connect", resolve); client.on("connect_error", reject); }), "the msgpack client to connect");
    const ack = await withTimeout(client.emitWithAck("subscribe", { room: "orders" }), "the subscribe ack");
    assert.deepEqual(ack, { ok: true, room: "orders" });
    const reply = await withTimeout(client.emitWithAck("blob", { data: Buffer.from([7, 8, 9]) }), "the blob ack");
    assert.equal(reply.ok, true);
    // Control: a JSON client is not understood by the msgpack gateway.
    const json = connectClient(srv.url, { transports: ["websocket"], reconnection: false, timeout: 2000 });
    const joined = await withTimeout(
      new Promise((resolve) => {
        json.on("connect", () => resolve(true));
        json.on("connect_error", () => resolve(false));
        setTimeout(() => resolve(false), 2500);
      }),
      "the JSON client's outcome",
    );
    json.close();
    assert.equal(joined, false);
    // Sockscope's own client speaks msgpack to its own gateway too.
    const own = await runUntil(["connect", srv.url, "--parser", "msgpack", "--no-reconnect", "--emit", 'blob={"data":{"_binary":"AQI="}}'], / c2s \/ blob /, "our msgpack client");
    assert.match(own.stderr, /msgpack parser, sockscope client/);
  } finally {
    client.close();
    srv.child.kill("SIGINT");
    await withTimeout(srv.exited, "serve to stop");
  }
  const [session] = (await sessions(db)).filter((s) => s.name === "mp-front");
  assert.equal(session.meta.parser, "msgpack");
  const events = await sessionEvents(db, session.id);
  const blobs = events.filter((e) => e.event === "blob" && e.direction === "c2s").map((e) => e.args);
  assert.deepEqual(blobs, [[{ data: { _binary: Buffer.from([7, 8, 9]).toString("base64") } }], [{ data: { _binary: "AQI=" } }]]);
});

test("server-side replay of a msgpack recording speaks msgpack to the front end", async () => {
  assert.ok(msgpackSession, "the msgpack recording test ran first");
  const child = spawn(sockscopeBin(), ["replay", String(msgpackSession.id), "--mode", "server", "--port", "0", "--as-fast-as-possible", "--db", msgpackSession.db], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("close", resolve));
  let client;
  try {
    const url = await withTimeout(
      new Promise((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          const m = /^listening on (https?:\/\/\S+)$/m.exec(out);
          if (m) resolve(m[1]);
        });
        child.on("close", (code) => reject(new Error(`replay exited ${code}: ${stderr}`)));
      }),
      "the server replay to listen",
    );
    client = connectClient(url, { parser: msgpackParser, transports: ["websocket"], reconnection: false });
    const [file] = await withTimeout(new Promise((resolve) => client.on("file", (...a) => resolve(a))), "the replayed file event");
    // Binary goes out as the recorded marker (the documented server-replay rule).
    assert.deepEqual(file, { name: "a.bin", body: { _binary: Buffer.from([0, 1, 2, 255]).toString("base64") } });
    assert.equal(await withTimeout(exited, "the replay to finish"), 0, stderr);
  } finally {
    client?.close();
    child.kill("SIGINT");
  }
});

// --------------------------------------------------------- server emitWithAck
test("a server's emitWithAck gets the configured reply; one no rule answers is unanswered", async () => {
  const http = createServer();
  const io = new Server(http);
  const results = [];
  io.on("connection", async (socket) => {
    const settle = (p) => p.then((v) => ({ ok: v }), (e) => ({ err: e.message }));
    const [answered, wildcard, ignored] = await Promise.all([
      settle(socket.timeout(3000).emitWithAck("question", { q: 1 })),
      settle(socket.timeout(3000).emitWithAck("other", "x")),
      settle(socket.timeout(1000).emitWithAck("plain", "y")),
    ]);
    results.push({ answered, wildcard, ignored });
    socket.emit("done");
  });
  const url = await listen(http);
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  // "plain" matches no rule: not answered. "other" has its own rule; "question" too.
  const r = await runUntil(
    ["connect", url, "--no-reconnect", "--ack-reply", 'question={"answer":42}', "--ack-reply", 'other=[1,2]'],
    / done /,
    "connect with ack rules",
  );
  assert.equal(results.length, 1);
  assert.deepEqual(results[0].answered, { ok: { answer: 42 } });
  assert.deepEqual(results[0].wildcard, { ok: [1, 2] });
  assert.match(results[0].ignored.err, /timed out/);
  assert.match(r.stdout, / question \[\{"q":1\}\] ack=\{"reply":\{"answer":42\}\}/);
  assert.match(r.stdout, / plain \["y"\] ack=unanswered\(id \d+\)/);

  // The wildcard rule answers anything (and the rust_socketio backend is not used).
  results.length = 0;
  const any = await runUntil(["connect", url, "--no-reconnect", "--ack-reply", '*="any"', "--json"], /"event":"done"/, "connect with a * rule");
  assert.equal(results.length, 1);
  assert.deepEqual(results[0].ignored, { ok: "any" });
  assert.match(any.stderr, /sockscope client/);
  assert.doesNotMatch(any.stdout, /unanswered/);
});

// ------------------------------------------------------------- hostile server
test("frames that do not decode: one line, exit 2, no panic", async () => {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const open = JSON.stringify({ sid: "s", upgrades: [], pingInterval: 5000, pingTimeout: 5000, maxPayload: 1e6 });
  let mode = "";
  wss.on("connection", (ws) => {
    ws.send("0" + open);
    ws.on("message", () => {
      // After CONNECT: join, then garbage of the kind under test.
      if (mode === "msgpack") {
        ws.send(Buffer.from([0x82, 0xa4, 0x74, 0x79, 0x70, 0x65, 0x00, 0xa3, 0x6e, 0x73, 0x70, 0xa1, 0x2f])); // {type:0,nsp:"/"}
        ws.send(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])); // an array announcing 4 billion items
      } else {
        ws.send('40{"sid":"x"}');
        ws.send("4599-[\"x\"]"); // 99 attachments announced
      }
    });
  });
  const url = await listen(http);
  closers.push(() => new Promise((resolve) => { wss.close(); http.close(() => resolve()); }));
  for (const m of ["msgpack", "json"]) {
    mode = m;
    const args = ["connect", url, "--no-reconnect", "--eio", "4", "--parser", m, "--ack-reply", "x=1"];
    const r = await run(args);
    assert.equal(r.code, 2, `${m}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /panicked|RUST_BACKTRACE/);
    // The error is one line naming the bad frame; the recording-style error record too.
    const last = r.stderr.trim().split("\n").at(-1);
    assert.match(last, /ended: connection lost \(transport error: /);
    assert.match(last, m === "msgpack" ? /bad msgpack packet/ : /announces 99 attachments/);
    assert.match(r.stdout, m === "msgpack" ? / error \["bad msgpack packet/ : / error \["binary packet announces/);
  }
});
