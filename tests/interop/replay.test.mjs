// Client-side replay against a Node socket.io 4.8 "staging" server started in this
// process: a recorded session (imported from JSON Lines written here, with known
// gaps) is re-sent with its timing (1x and 4x), its rewrites and its filters; the
// server logs what it receives and when, and answers one event differently from the
// recording so the drift report has something to find. Every wait is bounded.
// The session was recorded on /dashboard and the replays give no --namespace: the
// replay connects to the recording's namespace by default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Server } from "socket.io";
import { run, withTimeout } from "./harness.mjs";

const MS = 1000; // EventRecord.ts is in microseconds
const T0 = 1_700_000_000_000 * MS;

function record(seq, atMs, direction, event, args, ack) {
  const r = { seq, ts: T0 + atMs * MS, source: "connection:1", direction, namespace: "/dashboard", event, args };
  if (ack) r.ack = ack;
  return r;
}

// What "production" saw: subscribe at 0 ms, echo (acked, by our client: reply plus
// latency) at 300 ms, set_tenant (acked, plain reply as the gateway records it) at
// 600 ms, and the server's pushes in between.
const SOURCE = [
  record(1, -50, "s2c", "connect", []),
  record(2, 0, "c2s", "subscribe", [{ room: "tenant-a:orders", tenantID: "t1" }]),
  record(3, 20, "s2c", "order", [{ id: 1, tenant: "tenant-a" }]),
  record(4, 300, "c2s", "echo", [{ msg: "hi", tenant: "tenant-a" }], {
    id: 1,
    reply: { reply: { echo: [{ msg: "hi", tenant: "tenant-a" }], ok: true, ts: 111 }, latency_ms: 12.5 },
  }),
  record(5, 600, "c2s", "set_tenant", [{ tenantID: "t1", name: "tenant-a" }], { id: 2, reply: { ok: true, tenant: "tenant-a" } }),
  record(6, 650, "s2c", "tenant_changed", [{ tenantID: "t1" }]),
  record(7, 700, "s2c", "disconnect", []),
];

/** The staging gateway: logs every event with its arrival time (ms). */
async function startStaging() {
  const http = createServer();
  const io = new Server(http);
  const received = [];
  // The recording's namespace: the replay connects there without --namespace.
  io.of("/dashboard").on("connection", (socket) => {
    socket.onAny((event, ...args) => {
      received.push({ event, at: performance.now(), args: args.filter((a) => typeof a !== "function") });
    });
    socket.on("subscribe", ({ room } = {}) => {
      socket.emit("order", { id: 1, tenant: String(room).split(":")[0] });
    });
    socket.on("echo", (...args) => {
      const ack = typeof args.at(-1) === "function" ? args.pop() : null;
      ack?.({ echo: args, ok: true, ts: Date.now() });
    });
    socket.on("set_tenant", (data, ack) => {
      socket.emit("tenant_changed", { tenantID: data?.tenantID });
      // Production answered ok: true; staging has a regression.
      if (typeof ack === "function") ack({ ok: false, tenant: data?.name });
    });
  });
  await withTimeout(new Promise((resolve) => http.listen(0, "127.0.0.1", resolve)), "the staging server to listen");
  return {
    url: `http://127.0.0.1:${http.address().port}`,
    received,
    close: () => new Promise((resolve) => io.close(() => resolve())),
  };
}

async function setup(t) {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-replay-"));
  const db = join(dir, "replay.db");
  const file = join(dir, "production.jsonl");
  writeFileSync(file, SOURCE.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const imp = await run(["sessions", "import", file, "--db", db, "--json"]);
  assert.equal(imp.code, 0, imp.stderr);
  const { id } = JSON.parse(imp.stdout);
  const staging = await startStaging();
  t.after(() => staging.close());
  return { db, id, staging };
}

async function replay(db, id, url, ...extra) {
  const r = await run(["replay", String(id), "--target", url, "--transport", "websocket", "--db", db, "--json", ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function gaps(received) {
  return received.slice(1).map((e, i) => e.at - received[i].at);
}

function assertNear(actual, expected, tolerance, what) {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual.toFixed(1)} ms, expected ${expected} ± ${tolerance}`);
}

test("replay at 1x: same events in the same order, original gaps, rewrites applied, new replay session", async (t) => {
  const { db, id, staging } = await setup(t);
  const report = await replay(db, id, staging.url, "--rewrite", "tenant-a=>tenant-b", "--set", "$.tenantID=t2", "--ignore", "ts");

  assert.deepEqual(staging.received.map((e) => e.event), ["subscribe", "echo", "set_tenant"]);
  for (const [k, gap] of gaps(staging.received).entries()) assertNear(gap, 300, 80, `gap ${k + 1}`);
  assert.deepEqual(staging.received.map((e) => e.args), [
    [{ room: "tenant-b:orders", tenantID: "t2" }],
    [{ msg: "hi", tenant: "tenant-b" }],
    [{ tenantID: "t2", name: "tenant-b" }],
  ]);

  assert.equal(report.source_session, id);
  assert.equal(report.sent, 3);
  assert.equal(report.target, staging.url);
  const list = await run(["sessions", "list", "--db", db, "--json"]);
  assert.equal(list.code, 0, list.stderr);
  const session = JSON.parse(list.stdout).find((s) => s.id === report.replay_session);
  assert.ok(session, `session ${report.replay_session} in ${list.stdout}`);
  assert.equal(session.kind, "replay");
  assert.equal(session.meta.source_session, id);
  assert.equal(session.meta.speed, 1);
  assert.equal(session.meta.namespace, "/dashboard");
  // The new session holds what was sent (rewritten) and what staging answered.
  const shown = await run(["sessions", "show", String(report.replay_session), "--db", db, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  const events = shown.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const setTenant = events.find((e) => e.event === "set_tenant");
  assert.deepEqual(setTenant.args, [{ tenantID: "t2", name: "tenant-b" }]);
  assert.deepEqual(setTenant.ack.reply.reply, { ok: false, tenant: "tenant-b" });
  assert.ok(events.some((e) => e.direction === "s2c" && e.event === "order"), JSON.stringify(events));
});

test("replay drift report names the event staging answers differently and counts server events", async (t) => {
  const { db, id, staging } = await setup(t);
  const report = await replay(db, id, staging.url, "--rewrite", "tenant-a=>tenant-b", "--ignore", "ts", "--as-fast-as-possible");

  assert.deepEqual(
    report.ack_mismatches.map((m) => [m.event, m.index, m.expected, m.received]),
    [["set_tenant", 2, { ok: true, tenant: "tenant-b" }, { ok: false, tenant: "tenant-b" }]],
  );
  assert.deepEqual(report.events, [
    { event: "order", expected: 1, received: 1 },
    { event: "tenant_changed", expected: 1, received: 1 },
  ]);
  assert.deepEqual(report.missing, []);
  assert.deepEqual(report.unexpected, []);
  // Only echo's original ack knows its latency (our client's format).
  assert.deepEqual(report.latency.map((l) => [l.event, l.original_ms]), [["echo", 12.5]]);
  assert.equal(report.schedule.sends, 3);

  // Without --ignore ts the volatile timestamp is drift too.
  const strict = await replay(db, id, staging.url, "--rewrite", "tenant-a=>tenant-b", "--as-fast-as-possible");
  assert.deepEqual(strict.ack_mismatches.map((m) => m.event), ["echo", "set_tenant"]);

  // The human table says the same.
  const human = await run(["replay", String(id), "--target", staging.url, "--db", db, "--rewrite", "tenant-a=>tenant-b", "--ignore", "ts", "--as-fast-as-possible"]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /#2 set_tenant: expected \{"ok":true,"tenant":"tenant-b"\} received \{"ok":false,"tenant":"tenant-b"\}/);
  assert.match(human.stdout, /drift found/);
  assert.match(human.stderr, /replay session \d+: 3 events sent/);
});

test("replay --speed 4: gaps shrink to a quarter", async (t) => {
  const { db, id, staging } = await setup(t);
  await replay(db, id, staging.url, "--speed", "4");
  assert.deepEqual(staging.received.map((e) => e.event), ["subscribe", "echo", "set_tenant"]);
  // 300 ms gaps at 4x are 75 ms: tight enough that 3x (100 ms gaps, a 200 ms span)
  // and 5x (60 ms, 120 ms) fail, loose enough for a loaded machine's scheduling.
  for (const [k, gap] of gaps(staging.received).entries()) assertNear(gap, 75, 22, `gap ${k + 1}`);
  const span = staging.received.at(-1).at - staging.received[0].at;
  assertNear(span, 150, 25, "first to last send");
});

test("replay --only / --skip choose what is sent", async (t) => {
  const { db, id, staging } = await setup(t);
  const only = await replay(db, id, staging.url, "--only", "echo", "--as-fast-as-possible");
  assert.deepEqual(staging.received.map((e) => e.event), ["echo"]);
  assert.equal(only.sent, 1);
  // Nothing subscribed, so the order push never came: the report says so.
  assert.deepEqual(only.missing, ["order", "tenant_changed"]);

  staging.received.length = 0;
  const skip = await replay(db, id, staging.url, "--skip", "echo", "--skip", "subscribe", "--as-fast-as-possible");
  assert.deepEqual(staging.received.map((e) => e.event), ["set_tenant"]);
  assert.equal(skip.sent, 1);
});

test("replay: bad input is a one-line error with a non-zero exit", async (t) => {
  const { db, id, staging } = await setup(t);
  const cases = [
    [["replay", "9999", "--target", staging.url, "--db", db], /no session 9999/],
    [["replay", String(id), "--target", staging.url, "--db", db, "--set", "$.tenantID={oops"], /bad rewrite rule "\$\.tenantID=\{oops": bad JSON value/],
    [["replay", String(id), "--target", staging.url, "--db", db, "--set", "tenantID=t2"], /bad rewrite rule/],
    [["replay", String(id), "--target", staging.url, "--db", db, "--rewrite", "no-arrow"], /bad rewrite rule "no-arrow": expected FROM=>TO/],
    [["replay", String(id), "--target", staging.url, "--db", db, "--only", "nothing-like-this"], /no client-to-server events to replay/],
    [["replay", String(id), "--target", staging.url, "--db", db, "--speed", "0"], /invalid value '0' for '--speed <F>': allowed range is 0\.001 to 1000000/],
    [["replay", String(id), "--target", "http://127.0.0.1:1", "--db", db], /cannot reach http:\/\/127\.0\.0\.1:1/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.notEqual(r.code, 0, `${args.join(" ")} exited 0`);
    assert.match(r.stderr, message, args.join(" "));
    // One line, plus clap's usage hint for a bad flag value.
    const lines = r.stderr.trim().split("\n");
    assert.ok(lines.length === 1 || (lines.length === 2 && /^usage: sockscope replay --help$/.test(lines[1])), `one line for ${args.join(" ")}: ${r.stderr}`);
  }
  assert.deepEqual(staging.received, [], "nothing reached the server");
  // No half-made replay session was left behind.
  const list = await run(["sessions", "list", "--db", db, "--json"]);
  assert.deepEqual(JSON.parse(list.stdout).map((s) => s.kind), ["import"]);
});
