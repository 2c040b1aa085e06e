// Issue 22, the capture proxy: `sockscope proxy` between real socket.io peers.
// - socket.io 4.8 + socket.io-client 4.8, socket.io 2.5 + socket.io-client 2.5, and
//   4.8 with socket.io-msgpack-parser, each over polling only, websocket only and
//   polling then upgrade: the client's and the server's own logs are the same as
//   without the proxy, and the recording holds every event, in order, with the
//   acks (both ways) paired and binary kept.
// - Each fault rule, with a positive control beside it.
// - A hostile upstream: the connection is closed with a recorded reason, the proxy
//   lives on (a clean client after it works).
// - A real browser (Debian chromium via playwright-core) loads a page through the
//   proxy (plain HTTP passthrough) whose socket.io-client events are recorded.
// Every wait is bounded.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { io as ioV4 } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { WebSocketServer } from "ws";
import { run, sockscopeBin, withTimeout, eventually } from "./harness.mjs";

const require = createRequire(import.meta.url);
const ServerV2 = require("socket.io-v2");
const ioV2 = require("socket.io-client-v2");

const dir = mkdtempSync(join(tmpdir(), "sockscope-proxy-"));
const db = join(dir, "proxy.db");
const closers = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function listen(http) {
  return withTimeout(new Promise((resolve) => http.listen(0, "127.0.0.1", resolve)), "a test server to listen").then(
    () => `http://127.0.0.1:${http.address().port}`,
  );
}

/** Starts `sockscope proxy ARGS`; resolves with its URL once it listens. */
async function startProxy(upstream, args = []) {
  const child = spawn(sockscopeBin(), ["proxy", "--listen", "127.0.0.1:0", "--upstream", upstream, "--json", "--db", db, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const lines = [];
  const rl = createInterface({ input: child.stdout });
  const exited = new Promise((resolve) => child.on("close", (code) => resolve(code)));
  const url = await withTimeout(
    new Promise((resolve, reject) => {
      rl.on("line", (line) => {
        const m = /^proxy listening on (https?:\/\/\S+) /.exec(line);
        if (m) resolve(m[1]);
        else lines.push(line);
      });
      child.on("exit", (code) => reject(new Error(`sockscope proxy exited with ${code}: ${stderr}`)));
    }),
    "sockscope proxy to listen",
  );
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGINT");
    const code = await withTimeout(exited, "sockscope proxy to stop");
    return { code, stderr };
  };
  closers.push(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  return { url, lines, stop, pid: child.pid, stderr: () => stderr, events: () => lines.map((l) => JSON.parse(l)) };
}

/** Resident memory of a process, KiB. */
function proxyRssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m[1]);
}

/** A raw Engine.IO v4 websocket whose reading can be paused (TCP backpressure). */
async function rawEngineIoAt(url) {
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`, { maxPayload: 1e8 });
  const frames = [];
  ws.on("message", (data) => {
    const f = data.toString();
    if (f === "2") ws.send("3");
    else frames.push(f);
  });
  await withTimeout(new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject)), "a raw websocket to open");
  const frame = (pred, what) => eventually(() => frames.find(pred), what);
  await frame((f) => f.startsWith("0{"), "the open packet");
  return { frames, frame, send: (f) => ws.send(f), pause: () => ws.pause(), resume: () => ws.resume(), close: () => ws.close() };
}

async function sessionEvents(name) {
  const list = await run(["sessions", "list", "--db", db, "--json"]);
  assert.equal(list.code, 0, list.stderr);
  const s = JSON.parse(list.stdout).filter((x) => x.name === name).at(-1);
  assert.ok(s, `session ${name} was recorded`);
  const shown = await run(["sessions", "show", String(s.id), "--db", db, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  return shown.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

const show = (v) => (Buffer.isBuffer(v) || v instanceof ArrayBuffer ? `bin:${Buffer.from(v).toString("base64")}` : JSON.stringify(v));

/**
 * A real socket.io server of `version` (2 or 4, optionally msgpack) running the
 * conversation below, logging what it receives.
 */
async function upstreamServer(version, parser) {
  const http = createServer();
  const log = [];
  const opts = parser ? { parser } : {};
  const io = version === 2 ? ServerV2(http, opts) : new Server(http, opts);
  io.on("connection", (socket) => {
    socket.emit("welcome", { n: 1 });
    socket.on("hello", (...args) => {
      log.push(`hello ${args.map(show).join(" ")}`);
      socket.emit("echo", "hello", ...args);
    });
    socket.on("ping-me", (data, ack) => {
      log.push(`ping-me ${show(data)}`);
      ack({ pong: data });
    });
    socket.on("upload", (buf) => {
      log.push(`upload ${show(buf)}`);
      socket.emit("uploaded", Buffer.from([4, 5, 6]));
    });
    socket.on("ask-me", () => {
      socket.emit("ask", { q: 1 }, (reply) => {
        log.push(`ask-reply ${show(reply)}`);
        socket.emit("thanks", reply);
      });
    });
  });
  const url = await listen(http);
  closers.push(() => new Promise((r) => io.close(() => r())));
  return { url, log };
}

/** The client half of the conversation; returns its own log and the transport it ended on. */
async function converse(version, url, transports, parser) {
  const opts = { transports, reconnection: false, forceNew: true };
  if (version === 4) opts.auth = { token: "tok-SECRET-4711" };
  else opts.query = { token: "tok-SECRET-4711" };
  if (parser) opts.parser = parser;
  const socket = version === 2 ? ioV2(url, opts) : ioV4(url, opts);
  const log = [];
  const next = (ev) =>
    withTimeout(
      new Promise((resolve) =>
        socket.once(ev, (...args) => {
          log.push(`${ev} ${args.map(show).join(" ")}`);
          resolve(args);
        }),
      ),
      `${ev} (v${version} ${transports.join("+")})`,
    );
  socket.on("ask", (q, cb) => {
    log.push(`ask ${show(q)}`);
    cb({ a: 2 });
  });
  try {
    await next("welcome");
    socket.emit("hello", 1, "a");
    await next("echo");
    const reply = await withTimeout(new Promise((resolve) => socket.emit("ping-me", { x: 1 }, resolve)), "the ping-me ack");
    log.push(`ping-me-ack ${show(reply)}`);
    socket.emit("upload", Buffer.from([1, 2, 3]));
    await next("uploaded");
    socket.emit("ask-me");
    await next("thanks");
    if (transports.length > 1) {
      // Let the upgrade finish before reading the transport.
      await eventually(() => socket.io.engine.transport.name === "websocket", "the upgrade to websocket");
    }
    return { log, transport: socket.io.engine.transport.name, engineId: socket.io.engine.id };
  } finally {
    socket.close();
  }
}

const EXPECTED_CLIENT_LOG = [
  `welcome {"n":1}`,
  `echo "hello" 1 "a"`,
  `ping-me-ack {"pong":{"x":1}}`,
  `uploaded bin:BAUG`,
  `ask {"q":1}`,
  `thanks {"a":2}`,
];
const EXPECTED_SERVER_LOG = [`hello 1 "a"`, `ping-me {"x":1}`, `upload bin:AQID`, `ask-reply {"a":2}`];

/** The recorded conversation of one client, lifecycle aside, as comparable lines. */
function conversation(events, source) {
  return events
    .filter((e) => e.source === source && !["connect", "disconnect"].includes(e.event))
    .map((e) => {
      let line = `${e.direction} ${e.event} ${JSON.stringify(e.args)}`;
      if (e.ack?.reply !== undefined) line += ` ack=${JSON.stringify(e.ack.reply)}`;
      return line;
    });
}

const EXPECTED_RECORDING = [
  `s2c welcome [{"n":1}]`,
  `c2s hello [1,"a"]`,
  `s2c echo ["hello",1,"a"]`,
  `c2s ping-me [{"x":1}] ack={"pong":{"x":1}}`,
  `c2s upload [{"_binary":"AQID"}]`,
  `s2c uploaded [{"_binary":"BAUG"}]`,
  `c2s ask-me []`,
  `s2c ask [{"q":1}] ack={"a":2}`,
  `s2c thanks [{"a":2}]`,
];

const VARIANTS = [
  { name: "v4-json", version: 4 },
  { name: "v2-json", version: 2 },
  { name: "v4-msgpack", version: 4, parser: msgpackParser },
];
const TRANSPORTS = [
  { name: "polling", transports: ["polling"], ends: "polling" },
  { name: "websocket", transports: ["websocket"], ends: "websocket" },
  { name: "upgrade", transports: ["polling", "websocket"], ends: "websocket" },
];

for (const v of VARIANTS) {
  test(`${v.name}: every transport through the proxy matches a direct run and is recorded in order`, async () => {
    const server = await upstreamServer(v.version, v.parser);
    const record = `proxy-${v.name}`;
    const proxy = await startProxy(server.url, ["--record", record]);
    const results = [];
    for (const t of TRANSPORTS) {
      server.log.length = 0;
      const direct = await converse(v.version, server.url, t.transports, v.parser);
      const directServer = [...server.log];
      server.log.length = 0;
      const proxied = await converse(v.version, proxy.url, t.transports, v.parser);
      const proxiedServer = [...server.log];
      assert.deepEqual(direct.log, EXPECTED_CLIENT_LOG, `${t.name}: the direct run is the conversation`);
      assert.deepEqual(proxied.log, direct.log, `${t.name}: the client sees the same through the proxy`);
      assert.deepEqual(directServer, EXPECTED_SERVER_LOG, `${t.name}: the direct server log`);
      assert.deepEqual(proxiedServer, directServer, `${t.name}: the server sees the same through the proxy`);
      assert.equal(proxied.transport, t.ends, `${t.name}: the proxied client ended on ${t.ends}`);
      results.push({ ...t, engineId: proxied.engineId });
    }
    // Wait for the last client's disconnect to be printed, then stop.
    await eventually(() => proxy.events().filter((e) => e.event === "disconnect").length >= TRANSPORTS.length, "every client's disconnect");
    const stopped = await proxy.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    const events = await sessionEvents(record);
    // No secret and no Engine.IO session id in the recording or the printed events;
    // the handshake's token is there as [redacted] (v4 sends it in CONNECT).
    const everything = JSON.stringify(events) + proxy.lines.join("\n") + stopped.stderr;
    assert.doesNotMatch(everything, /tok-SECRET-4711/);
    for (const r of results) assert.ok(r.engineId && !everything.includes(r.engineId), `${r.name}: the Engine.IO sid is not recorded`);
    if (v.version === 4) {
      const hello = events.find((e) => e.event === "connect" && e.direction === "c2s");
      assert.deepEqual(hello.args, [{ token: "[redacted]" }], "control: the auth was seen and redacted");
    }
    const sources = [...new Set(events.map((e) => e.source))];
    assert.deepEqual(sources, ["proxy:1", "proxy:2", "proxy:3"], "one Engine.IO session = one client");
    TRANSPORTS.forEach((t, i) => {
      const source = `proxy:${i + 1}`;
      assert.deepEqual(conversation(events, source), EXPECTED_RECORDING, `${t.name}: the recording holds the conversation in order`);
      const mine = events.filter((e) => e.source === source);
      const connected = mine.find((e) => e.event === "connect" && e.direction === "s2c");
      // v4 names the socket in its CONNECT reply; a v2 socket id is the Engine.IO
      // session id, which is never recorded (it would let a reader join the session).
      assert.equal(Boolean(connected?.socket_id), v.version === 4, `${t.name}: the connect's socket id`);
      assert.equal(mine.at(-1).event, "disconnect", `${t.name}: the client's last record is its disconnect`);
      assert.ok(mine.every((e) => !e.fault), `${t.name}: no fault without a rule`);
      const ackLatency = mine.find((e) => e.event === "ping-me").ack.latency_us;
      assert.ok(ackLatency > 0 && ackLatency < 5_000_000, `${t.name}: ack latency ${ackLatency} us`);
      const line = new RegExp(`^client ${i + 1}: EIO ${v.version === 2 ? 3 : 4} ${v.parser ? "msgpack" : "json"} ${t.ends},`, "m");
      assert.match(stopped.stderr, line, `${t.name}: the client list names its revision, parser and transport`);
    });
  });
}

test("a proxy recording exports, replays against a server, infers and checks a contract and makes a scenario", async () => {
  // The v4-json test above recorded `proxy-v4-json` (three clients).
  const list = JSON.parse((await run(["sessions", "list", "--db", db, "--json"])).stdout);
  const session = list.filter((x) => x.name === "proxy-v4-json").at(-1);
  assert.ok(session, "the v4 proxy session exists");
  assert.equal(session.kind, "proxy");
  const id = String(session.id);
  const jsonl = join(dir, "proxy.jsonl");
  const exported = await run(["sessions", "export", id, "-o", jsonl, "--db", db]);
  assert.equal(exported.code, 0, exported.stderr);
  const lines = readFileSync(jsonl, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.some((e) => e.event === "ping-me" && e.ack?.reply?.pong), "the export keeps the paired ack");
  const contract = join(dir, "proxy-contract.yaml");
  const inferred = await run(["contract", "infer", id, "-o", contract, "--db", db]);
  assert.equal(inferred.code, 0, inferred.stderr);
  const checked = await run(["contract", "check", id, "--against", contract, "--db", db]);
  assert.equal(checked.code, 0, `the recording satisfies its own contract: ${checked.stdout}${checked.stderr}`);
  // Control: the same recording with one argument's type changed violates it.
  const bent = join(dir, "proxy-bent.jsonl");
  writeFileSync(bent, lines.map((e) => JSON.stringify(e.event === "ping-me" ? { ...e, args: [{ x: "one" }] } : e)).join("\n") + "\n");
  const imported = await run(["sessions", "import", bent, "--db", db, "--json"]);
  assert.equal(imported.code, 0, imported.stderr);
  const bentId = String(JSON.parse(imported.stdout).id);
  const violated = await run(["contract", "check", bentId, "--against", contract, "--db", db]);
  assert.equal(violated.code, 1, `control: ${violated.stdout}${violated.stderr}`);
  assert.match(violated.stdout + violated.stderr, /ping-me/);
  const scenario = await run(["scenario", "from", id, "--db", db]);
  assert.equal(scenario.code, 0, scenario.stderr);
  assert.match(scenario.stdout, /ping-me/);
  // Replay the recorded clients' events against a fresh server: it gets them all.
  const server = await upstreamServer(4);
  const replayed = await run(["replay", id, "--target", server.url, "--transport", "websocket", "--json", "--db", db]);
  assert.equal(replayed.code, 0, replayed.stderr);
  await eventually(() => server.log.filter((l) => l.startsWith("hello")).length >= 1, "the replayed hello at the server");
  assert.ok(server.log.some((l) => l.startsWith("ping-me")), `the server log: ${server.log}`);
});

test("a refused handshake crosses the proxy as the server sent it and is recorded as connect_error", async () => {
  const http = createServer();
  const io = new Server(http);
  io.use((socket, next) => (socket.handshake.auth?.token === "good" ? next() : next(new Error("not allowed here"))));
  io.on("connection", (socket) => socket.emit("in"));
  const url = await listen(http);
  closers.push(() => new Promise((r) => io.close(() => r())));
  const proxy = await startProxy(url, ["--record", "refused"]);
  const refused = ioV4(proxy.url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { token: "bad" } });
  const err = await withTimeout(new Promise((resolve) => refused.once("connect_error", resolve)), "the connect_error");
  assert.equal(err.message, "not allowed here");
  refused.close();
  // Control: the right token connects through the same proxy.
  const ok = ioV4(proxy.url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { token: "good" } });
  await withTimeout(new Promise((resolve) => ok.once("in", resolve)), "the accepted client's event");
  ok.close();
  await proxy.stop();
  const events = await sessionEvents("refused");
  const ce = events.filter((e) => e.event === "connect_error");
  assert.equal(ce.length, 1, JSON.stringify(events));
  assert.deepEqual(ce[0].args, ["not allowed here"]);
  assert.ok(events.some((e) => e.event === "in"), "control: the accepted client's event is recorded");
});

/** A v4 server that emits what the test asks for, for the fault rules. */
async function faultServer() {
  const http = createServer();
  const io = new Server(http);
  const got = [];
  io.on("connection", (socket) => {
    socket.onAny((ev, ...args) => {
      got.push(ev);
      if (ev === "send") for (const [name, payload] of args[0]) socket.emit(name, payload);
    });
  });
  const url = await listen(http);
  closers.push(() => new Promise((r) => io.close(() => r())));
  return { url, got };
}

async function client(url, transports = ["websocket"]) {
  const socket = ioV4(url, { transports, reconnection: false, forceNew: true });
  await withTimeout(new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }), "a client to connect");
  closers.push(async () => socket.close());
  return socket;
}

function arrivals(socket) {
  const seen = [];
  socket.onAny((ev, payload) => seen.push({ ev, payload, at: performance.now() }));
  return seen;
}

test("delay: the matching event arrives late, the one before it on time", async () => {
  const server = await faultServer();
  const proxy = await startProxy(server.url, ["--rule", "delay by=400ms event=slow dir=s2c", "--record", "fault-delay"]);
  const s = await client(proxy.url);
  const seen = arrivals(s);
  const sent = performance.now();
  s.emit("send", [["fast", 1], ["slow", 2]]);
  await eventually(() => seen.length === 2, "both events");
  const fast = seen.find((e) => e.ev === "fast").at - sent;
  const slow = seen.find((e) => e.ev === "slow").at - sent;
  assert.ok(fast < 200, `control: the unmatched event arrived in ${fast} ms`);
  assert.ok(slow >= 380, `the matched event arrived after ${slow} ms`);
  s.close();
  await proxy.stop();
  const rec = (await sessionEvents("fault-delay")).find((e) => e.event === "slow");
  assert.match(rec.fault, /^delayed 400 ms by rule 1 \(delay by=400ms event=slow dir=s2c\)$/);
});

test("drop: the matching event never arrives, the next one does, and the record says so", async () => {
  const server = await faultServer();
  const proxy = await startProxy(server.url, ["--rule", "drop event=secret", "--record", "fault-drop"]);
  const s = await client(proxy.url, ["polling"]);
  const seen = arrivals(s);
  s.emit("send", [["secret", 1], ["public", 2]]);
  await eventually(() => seen.some((e) => e.ev === "public"), "the control event");
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(seen.map((e) => e.ev), ["public"], "only the unmatched event arrived (polling)");
  // c2s too: the server never gets a dropped event, and gets the next one.
  s.emit("secret");
  s.emit("after");
  await eventually(() => server.got.includes("after"), "the server's control event");
  assert.ok(!server.got.includes("secret"), `the server got ${server.got}`);
  s.close();
  await proxy.stop();
  const events = await sessionEvents("fault-drop");
  const dropped = events.filter((e) => e.event === "secret");
  assert.equal(dropped.length, 2, "both dropped events are recorded");
  for (const d of dropped) assert.match(d.fault, /^dropped by rule 1 \(drop event=secret\)$/);
  assert.ok(!events.find((e) => e.event === "public").fault);
});

test("rewrite: the field is changed at the client, the rest of the event and other events are not", async () => {
  const server = await faultServer();
  const proxy = await startProxy(server.url, ["--rule", "rewrite path=/0/price value=0 event=quote", "--record", "fault-rewrite"]);
  const s = await client(proxy.url);
  const seen = arrivals(s);
  s.emit("send", [["quote", { price: 12.5, sym: "X" }], ["trade", { price: 12.5 }]]);
  await eventually(() => seen.length === 2, "both events");
  assert.deepEqual(seen[0].payload, { price: 0, sym: "X" });
  assert.deepEqual(seen[1].payload, { price: 12.5 }, "control: another event keeps its price");
  s.close();
  await proxy.stop();
  const rec = (await sessionEvents("fault-rewrite")).find((e) => e.event === "quote");
  assert.deepEqual(rec.args, [{ price: 0, sym: "X" }], "the record holds what was delivered");
  assert.match(rec.fault, /rewrote \/0\/price from 12\.5 by rule 1/);
});

test("close: the client's transport closes at the matching event, which the server never gets", async () => {
  const server = await faultServer();
  const proxy = await startProxy(server.url, ["--rule", "close event=kill", "--record", "fault-close"]);
  for (const transports of [["websocket"], ["polling"]]) {
    server.got.length = 0;
    const s = await client(proxy.url, transports);
    const gone = withTimeout(new Promise((resolve) => s.once("disconnect", resolve)), `the ${transports} client's disconnect`);
    s.emit("alive");
    await eventually(() => server.got.includes("alive"), "control: the server got the event before");
    s.emit("kill");
    const reason = await gone;
    assert.match(reason, /transport (close|error)/, `${transports}: ${reason}`);
    assert.ok(!server.got.includes("kill"), `${transports}: the server got ${server.got}`);
  }
  await proxy.stop();
  const events = await sessionEvents("fault-close");
  const closes = events.filter((e) => e.event === "disconnect" && e.fault);
  assert.equal(closes.length, 2, JSON.stringify(events.filter((e) => e.event === "disconnect")));
  for (const c of closes) assert.match(c.fault, /transport closed by rule 1 \(close event=kill\)/);
});

test("no-upgrade: the client stays on polling; without the rule it upgrades", async () => {
  const server = await faultServer();
  const refusing = await startProxy(server.url, ["--rule", "no-upgrade"]);
  const plain = await startProxy(server.url);
  const a = await client(refusing.url, ["polling", "websocket"]);
  const b = await client(plain.url, ["polling", "websocket"]);
  await eventually(() => b.io.engine.transport.name === "websocket", "control: the upgrade through a proxy without the rule");
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(a.io.engine.transport.name, "polling");
  // Still working on polling.
  const seen = arrivals(a);
  a.emit("send", [["still", 1]]);
  await eventually(() => seen.length === 1, "an event on the refused client");
  a.close();
  b.close();
  const r = await refusing.stop();
  await plain.stop();
  assert.match(r.stderr, /client 1: EIO 4 json polling,.*faults: websocket upgrade refused by rule 1 \(no-upgrade\)/);
});

test("throttle: a large event takes as long as the bandwidth says; unthrottled it does not", async () => {
  const server = await faultServer();
  const slow = await startProxy(server.url, ["--rule", "throttle bps=40000 dir=s2c"]);
  const fast = await startProxy(server.url);
  const big = "x".repeat(40_000);
  const time = async (url) => {
    const s = await client(url);
    const seen = arrivals(s);
    const t0 = performance.now();
    s.emit("send", [["big", big]]);
    await eventually(() => seen.length === 1, "the big event");
    s.close();
    assert.equal(seen[0].payload.length, big.length);
    return seen[0].at - t0;
  };
  const unthrottled = await time(fast.url);
  const throttled = await time(slow.url);
  assert.ok(unthrottled < 500, `control: ${unthrottled} ms without the rule`);
  assert.ok(throttled >= 900, `40 kB at 40 kB/s took ${throttled} ms`);
  const r = await slow.stop();
  await fast.stop();
  assert.match(r.stderr, /s2c: throttled for \d+ ms in all/);
});

test("a hostile upstream frame closes that connection with a recorded reason; the proxy lives on", async () => {
  // A fake Engine.IO v4 server: a valid open packet, then a frame that is not Socket.IO.
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (ws) => {
    ws.send('0{"sid":"evil","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}');
    ws.on("message", (m) => {
      if (m.toString().startsWith("40")) {
        ws.send('40{"sid":"s1"}');
        setTimeout(() => ws.send("4zz-not-a-packet"), 100);
      }
    });
  });
  const hostileUrl = await listen(http);
  closers.push(() => new Promise((r) => { wss.close(); http.close(() => r()); }));
  const proxy = await startProxy(hostileUrl, ["--record", "hostile"]);
  const socket = ioV4(proxy.url, { transports: ["websocket"], reconnection: false, forceNew: true });
  const reason = await withTimeout(new Promise((resolve) => socket.once("disconnect", resolve).once("connect_error", (e) => resolve(e.message))), "the hostile connection to close");
  assert.ok(reason, "the client was disconnected");
  socket.close();
  // Positive control: the same proxy process still serves a real server's client.
  const good = await faultServer();
  const proxy2 = await startProxy(good.url);
  await client(proxy2.url);
  await proxy2.stop();
  const stopped = await proxy.stop();
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.doesNotMatch(stopped.stderr, /panic/);
  assert.match(stopped.stderr, /client 1: .*ended: proxy closed the connection: the server sent a frame that does not decode/);
});

test("--metrics on the proxy: events by name, ack latency and rule drops, scraped while it runs", async () => {
  const server = await upstreamServer(4);
  const proxy = await startProxy(server.url, ["--metrics", "0", "--rule", "drop event=upload"]);
  const metricsUrl = await eventually(() => /metrics: (http:\/\/\S+)/.exec(proxy.stderr())?.[1], "the metrics address");
  const socket = ioV4(proxy.url, { transports: ["websocket"], reconnection: false, forceNew: true });
  await withTimeout(new Promise((r) => socket.once("welcome", r)), "welcome");
  await withTimeout(new Promise((r) => socket.emit("ping-me", { x: 1 }, r)), "the ack");
  socket.emit("upload", Buffer.from([1]));
  const scrape = () => fetch(metricsUrl).then((r) => r.text());
  const text = await eventually(async () => {
    const t = await scrape();
    return /sockscope_drops_total\{cause="proxy_rule"\} 1/.test(t) && t;
  }, "the rule's drop in the metrics");
  assert.match(text, /sockscope_events_total\{[^}]*event="ping-me"[^}]*\} 1/);
  assert.match(text, /sockscope_ack_latency_seconds_count 1/);
  // Control: nothing was lost by the metrics' own subscription.
  assert.match(text, /sockscope_drops_total\{cause="bus_lagged"\} 0/);
  socket.close();
  await proxy.stop();
});

function makeCert() {
  const cert = join(dir, `cert-${Math.random().toString(36).slice(2)}.pem`);
  const key = cert.replace("cert-", "key-");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" });
  return { cert, key };
}

test("TLS both ways: an HTTPS upstream with --ca-cert, refused without it; wss to the proxy with --listen-tls-*", async () => {
  const up = makeCert();
  const https = createHttpsServer({ cert: readFileSync(up.cert), key: readFileSync(up.key) });
  const io = new Server(https);
  io.on("connection", (socket) => socket.on("hi", (ack) => ack("over tls")));
  await withTimeout(new Promise((r) => https.listen(0, "127.0.0.1", r)), "the https server");
  closers.push(() => new Promise((r) => io.close(() => r())));
  const upstream = `https://127.0.0.1:${https.address().port}`;
  const front = makeCert();
  const proxy = await startProxy(upstream, ["--ca-cert", up.cert, "--listen-tls-cert", front.cert, "--listen-tls-key", front.key]);
  assert.match(proxy.url, /^https:/);
  for (const transports of [["websocket"], ["polling", "websocket"]]) {
    const socket = ioV4(proxy.url, { transports, reconnection: false, forceNew: true, ca: readFileSync(front.cert) });
    const reply = await withTimeout(new Promise((resolve, reject) => {
      socket.once("connect", () => socket.emit("hi", resolve));
      socket.once("connect_error", reject);
    }), `an ack over TLS (${transports})`);
    assert.equal(reply, "over tls");
    socket.close();
  }
  await proxy.stop();
  // Control: the same upstream without --ca-cert is not trusted, and the app hears so.
  const untrusting = await startProxy(upstream);
  const r = await fetch(`${untrusting.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(r.status, 502);
  assert.match(await r.text(), /certificate/i);
  await untrusting.stop();
});

test("a client that stops reading cannot grow the proxy's memory; it gets every event once it reads again", async () => {
  const http = createServer();
  const io = new Server(http, { maxHttpBufferSize: 1e7 });
  const N = 4000;
  const chunk = "y".repeat(10_000);
  io.on("connection", (socket) => socket.on("flood", () => {
    for (let i = 0; i < N; i++) socket.emit("bulk", i, chunk);
  }));
  const url = await listen(http);
  closers.push(() => new Promise((r) => io.close(() => r())));
  const proxy = await startProxy(url, ["--quiet"]);
  const raw = await rawEngineIoAt(proxy.url);
  const idle = proxyRssKiB(proxy.pid);
  raw.send("40");
  await raw.frame((f) => f.startsWith("40{"), "the connect reply");
  raw.pause();
  raw.send('42["flood"]');
  // 40 MB is on its way; the reader sleeps.
  await new Promise((r) => setTimeout(r, 3000));
  const grown = proxyRssKiB(proxy.pid) - idle;
  console.error(`proxy RSS grew ${grown} KiB (N=${N})`);
  assert.ok(grown < 8 * 1024, `proxy RSS grew ${grown} KiB while ${(N * chunk.length) / 1e6} MB waited for a sleeping reader`);
  raw.resume();
  await eventually(() => raw.frames.filter((f) => f.startsWith('42["bulk"')).length === N, "every event after resuming");
  raw.close();
  await proxy.stop();
});

test("bad proxy flags are one line and exit 2", async () => {
  for (const [args, says] of [
    [["--upstream", "ftp://x"], /use http/],
    [["--upstream", "http://127.0.0.1:1", "--rule", "explode"], /unknown action/],
    [["--upstream", "http://127.0.0.1:1", "--listen", "nowhere"], /expected IP:PORT/],
    [["--upstream", "http://127.0.0.1:1", "--rule", "delay by=fast"], /by=fast/],
  ]) {
    const r = await run(["proxy", ...args]);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, says);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

test("a browser page loaded through the proxy: its socket.io-client events are recorded", async () => {
  const { chromium } = await import("playwright-core");
  const http = createServer((req, res) => {
    if (req.url === "/") {
      res.setHeader("content-type", "text/html");
      res.end(`<!doctype html><title>chat</title><script src="/client.js"></script><script>
        const s = io({ transports: ["polling", "websocket"] });
        s.on("connect", () => s.emit("chat", { text: "from the browser" }, (r) => { s.disconnect(); document.title = "acked " + r.ok; }));
      </script>`);
    } else if (req.url === "/client.js") {
      res.setHeader("content-type", "application/javascript");
      res.end(readFileSync(join(dirname(require.resolve("socket.io-client/package.json")), "dist/socket.io.min.js")));
    }
  });
  const io = new Server(http);
  io.on("connection", (socket) => socket.on("chat", (m, ack) => ack({ ok: true })));
  const url = await listen(http);
  closers.push(() => new Promise((r) => io.close(() => r())));
  const proxy = await startProxy(url, ["--record", "browser"]);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  closers.push(() => browser.close());
  const page = await browser.newPage();
  await page.goto(proxy.url);
  await page.waitForFunction(() => document.title === "acked true", null, { timeout: 10_000 });
  await browser.close();
  await eventually(() => proxy.events().some((e) => e.event === "disconnect"), "the browser's disconnect");
  const stopped = await proxy.stop();
  const chat = (await sessionEvents("browser")).find((e) => e.event === "chat");
  assert.deepEqual(chat.args, [{ text: "from the browser" }]);
  assert.deepEqual(chat.ack.reply, { ok: true });
  assert.match(stopped.stderr, /^1 client\(s\), ([2-9]|\d{2,}) other request\(s\) passed through/m, "the page and its script went through");
});
