// Plain WebSocket end to end (issue 14, point 5): a session recorded with `--ws`
// from the jac profile (Jac Cloud's /websocket) replays client side with a drift
// report and server side to npm `ws` clients; the shipped `jac-chat` (plain
// WebSocket) and `gxp-plugins` (HTTP API templates to channel listeners) scenarios
// run against their embedded profiles. Every negative check has its positive control.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import WebSocket from "ws";
import { run, serve, sockscopeBin, withTimeout } from "./harness.mjs";

const WALKER = { type: "walker", walker: "greet", response: true, context: { name: "ada" } };
const CHAT = { type: "channel", channel_ids: ["room-1"], data: { type: "chat", text: "hello" } };

/** Records a Jac session with --ws from a fresh `serve --profile jac`; returns the db. */
async function recordJac(t) {
  const srv = await serve(["--port", "0", "--profile", "jac"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const dir = mkdtempSync(join(tmpdir(), "sockscope-ws-plus-"));
  const db = join(dir, "jac.db");
  const rec = await run(["record", `${srv.url}/websocket`, "--ws", "--query", "channel_id=room-1",
    "--send", JSON.stringify(WALKER), "--send", JSON.stringify(CHAT), "--duration", "1500ms", "--db", db, "--json"]);
  assert.equal(rec.code, 0, rec.stderr);
  const recorded = rec.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const names = recorded.map((r) => `${r.direction} ${r.event}`);
  for (const n of ["c2s walker", "c2s channel", "s2c connection", "s2c walker", "s2c chat"]) {
    assert.ok(names.includes(n), `recorded ${n}: ${names}`);
  }
  return { db, recorded, dir };
}

test("jac: a --ws session replays client side against the jac profile, and the drift report catches a missing channel", async (t) => {
  const { db } = await recordJac(t);
  const target = await serve(["--port", "0", "--profile", "jac"]);
  t.after(() => target.child.kill("SIGKILL"));

  // Same channel as recorded: the chat comes back, no drift.
  const same = await run(["replay", "1", "--target", target.url, "--query", "channel_id=room-1", "--db", db, "--json"]);
  assert.equal(same.code, 0, same.stderr);
  const report = JSON.parse(same.stdout);
  assert.equal(report.sent, 2);
  const counts = Object.fromEntries(report.events.map((e) => [e.event, [e.expected, e.received]]));
  assert.deepEqual(counts.walker, [1, 1]);
  assert.deepEqual(counts.chat, [1, 1]);
  assert.deepEqual(report.missing, []);
  assert.match(same.stderr, /no drift/);
  // The target saw the replayed messages as the recording sent them, over plain WebSocket.
  const seen = target.lines.map((l) => JSON.parse(l));
  const walker = seen.find((r) => r.direction === "c2s" && r.event === "walker");
  assert.deepEqual(walker?.args?.[0], WALKER);
  assert.equal(walker.namespace, "/websocket");

  // Another channel: the chat does not come back, and the report says so.
  const other = await run(["replay", "1", "--target", target.url, "--query", "channel_id=elsewhere", "--db", db, "--json"]);
  assert.equal(other.code, 0, other.stderr);
  const drift = JSON.parse(other.stdout);
  const chat = drift.events.find((e) => e.event === "chat");
  assert.deepEqual([chat.expected, chat.received], [1, 0]);
  assert.ok(drift.missing.length > 0, JSON.stringify(drift));
  assert.match(other.stderr, /drift found/);
});

/** Starts `sockscope replay ... --mode server`; resolves once it listens. */
async function startServerReplay(t, args) {
  const child = spawn(sockscopeBin(), ["replay", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const closed = withTimeout(new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr }))), "the replay to finish", 20_000);
  const rl = createInterface({ input: child.stdout });
  const url = await withTimeout(new Promise((resolve, reject) => {
    rl.on("line", (line) => {
      const m = /^listening on (https?:\/\/\S+)$/.exec(line);
      if (m) resolve(m[1]);
      else stdout += line + "\n";
    });
    child.on("exit", (code) => reject(new Error(`sockscope replay exited with ${code}: ${stderr}`)));
  }), "sockscope replay to listen");
  return { url, closed };
}

function wsClient(t, url) {
  const ws = new WebSocket(url);
  t.after(() => ws.close());
  const got = [];
  ws.on("message", (raw) => got.push(JSON.parse(raw.toString())));
  return { ws, got };
}

test("jac: a --ws session replays server side from the jac profile to plain WebSocket clients; --skip leaves one out", async (t) => {
  const { db, recorded } = await recordJac(t);
  const s2c = (event) => recorded.find((r) => r.direction === "s2c" && r.event === event).args[0];

  const all = await startServerReplay(t, ["1", "--mode", "server", "--profile", "jac", "--port", "0", "--wait-clients", "1", "--db", db]);
  const a = wsClient(t, all.url.replace("http", "ws") + "/websocket");
  const done = await all.closed;
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /replayed session 1: 3 of 3 events sent, 3 deliveries/);
  // First the live gateway's own hello, then the recording's server messages in order.
  assert.equal(a.got[0].type, "connection");
  assert.notEqual(a.got[0].data.client_id, s2c("connection").data.client_id);
  assert.deepEqual(a.got.slice(1), [s2c("connection"), s2c("walker"), s2c("chat")]);

  const skipped = await startServerReplay(t, ["1", "--mode", "server", "--profile", "jac", "--port", "0", "--wait-clients", "1", "--skip", "chat", "--db", db]);
  const b = wsClient(t, skipped.url.replace("http", "ws") + "/websocket");
  const done2 = await skipped.closed;
  assert.equal(done2.code, 0, done2.stderr);
  assert.deepEqual(b.got.slice(1).map((m) => m.type), ["connection", "walker"]);

  // Without the jac profile there is no /websocket to replay to: one line saying so.
  const refused = await run(["replay", "1", "--mode", "server", "--port", "0", "--db", db]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /\/websocket/);
});

const counts = (report) => Object.fromEntries(report.events.map((e) => [e.event, e]));

test("simulate jac-chat: plain WebSocket clients on channels, channel/user/client messages and timed walker calls", async () => {
  const r = await run(["simulate", "jac-chat", "--embedded", "--clients", "4", "--ramp", "200ms", "--duration", "4s", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.connected, 4);
  assert.equal(report.failed, 0);
  assert.deepEqual(report.errors_by_kind, []);
  const c = counts(report);
  // Walker calls with response: true are answered and timed as acks.
  assert.ok(c.walker.sent >= 8 && c.walker.received === c.walker.sent, JSON.stringify(c.walker));
  assert.equal(report.acks_ok, c.walker.sent);
  assert.equal(report.ack_latency.count, c.walker.sent);
  // Messages in flight when the run ends are cut off: at most one round per client.
  const about = (got, want, what) => assert.ok(got <= want && got >= want - 2 * 4, `${what}: ${got} of ${want}`);
  // Two clients per tenant channel: each channel message reaches both.
  about(c.chat.received, 2 * c.channel.sent, "chat");
  // user (own root) and client (own client id) messages come back to their sender.
  about(c.direct.received, c.user.sent, "direct");
  about(c.ping_self.received, c.client.sent, "ping_self");
  assert.ok(c.ping_self.received > 0 && c.direct.received > 0);
  assert.ok(report.delivery_latency.count >= c.chat.received + c.direct.received);
  assert.ok(report.delivery_latency.p99_ms < 1000, JSON.stringify(report.delivery_latency));
});

test("simulate gxp-plugins: templates sent over the HTTP API reach the plugins on their channel only, latency measured", async () => {
  const r = await run(["simulate", "gxp-plugins", "--embedded", "--clients", "4", "--ramp", "200ms", "--duration", "4s", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.connected, 4);
  assert.deepEqual(report.errors_by_kind, []);
  const c = counts(report);
  const sends = c["POST /templates/send"].sent;
  assert.ok(sends >= 6, `${sends} API sends`);
  // Half the sends are check-ins (subscribed channel), to one of two tenants of two
  // plugins each; the other half go to a channel nobody listens on.
  const checkIns = Math.ceil(sends / 2);
  assert.ok(Math.abs(c.AttendeeCheckedIn.received - 2 * checkIns) <= 2, `${c.AttendeeCheckedIn.received} vs ${2 * checkIns}`);
  assert.equal(c.SocialStreamPostCreated, undefined, "a template for another channel reached a plugin");
  assert.equal(report.delivery_latency.count, c.AttendeeCheckedIn.received);
  assert.ok(report.delivery_latency.p99_ms < 1000, JSON.stringify(report.delivery_latency));
});

test("a ws scenario file runs against a remote jac gateway; a path without transport ws is refused naming the file", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jac"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const dir = mkdtempSync(join(tmpdir(), "sockscope-ws-scenario-"));
  const file = join(dir, "mine.json");
  writeFileSync(file, JSON.stringify({
    name: "mine", transport: "ws", query: { channel_id: "c-{{client}}" },
    setup: [{ wait_for: { event: "connection", timeout_ms: 3000 } }],
    steps: [{ emit_with_ack: { event: "walker", data: { walker: "w", response: true }, timeout_ms: 3000 } }],
  }));
  const r = await run(["simulate", "--file", file, "--target", srv.url, "--clients", "2", "--ramp", "100ms", "--duration", "2s", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.connected, 2);
  assert.ok(report.acks_ok > 0 && report.acks_timed_out === 0, JSON.stringify(report));
  // The gateway saw each client on its own channel.
  const channels = new Set(srv.lines.map((l) => JSON.parse(l)).filter((e) => e.event === "connection").map((e) => e.args[0].data.channel_id));
  assert.ok(channels.has("c-0") && channels.has("c-1"), [...channels].join(","));

  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify({ name: "bad", path: "/websocket" }));
  const refused = await run(["simulate", "--file", bad, "--embedded"]);
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
  assert.match(refused.stderr, /bad\.json.*needs "transport": "ws"/);
});
