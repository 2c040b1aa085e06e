// `sockscope scenario from`: a scenario generated from a recording made by a Node
// socket.io-client against `sockscope serve --profile analytics` runs 50 clients
// against the embedded profile with every client connected, no id collisions and the
// recording's per-client event mix; without `--vary` the same 50 clients collide
// (the analytics gateway refuses a second tenant on one entity) — the negative control.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io } from "socket.io-client";
import { hs256, lastSessionId, once, run, serve, withTimeout } from "./harness.mjs";

const SECRET = "scenario-from-secret";
const TICK_MS = "100";
const CLIENTS = 50;
const dir = mkdtempSync(join(tmpdir(), "sockscope-scenario-from-"));
const db = join(dir, "rec.db");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const sessionId = (name) => lastSessionId(db, name);

async function sessionEvents(id) {
  const shown = await run(["sessions", "show", String(id), "--db", db, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  return shown.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** A dashboard viewer: subscribe to one entity, watch, switch to another, watch. */
async function recordSession(name) {
  const srv = await serve(["--port", "0", "--profile", "analytics", "--jwt-secret", SECRET, "--tick-ms", TICK_MS, "--record", name, "--db", db]);
  const socket = io(`${srv.url}/dashboard`, { auth: { token: hs256(SECRET, { sub: "ann", tenantId: "acme" }) }, transports: ["websocket"], reconnection: false });
  try {
    await once(socket, "connect");
    await sleep(200);
    let initial = once(socket, "dashboard:initial");
    const a = await withTimeout(socket.timeout(5000).emitWithAck("subscribe", { entityId: "ent-a", entityType: "event" }), "subscribe ack");
    assert.equal(a.ok, true, JSON.stringify(a));
    await initial;
    await sleep(2000);
    const u = await withTimeout(socket.timeout(5000).emitWithAck("unsubscribe", { entityId: "ent-a" }), "unsubscribe ack");
    assert.equal(u.ok, true, JSON.stringify(u));
    await sleep(300);
    initial = once(socket, "dashboard:initial");
    const b = await withTimeout(socket.timeout(5000).emitWithAck("subscribe", { entityId: "ent-b", entityType: "event" }), "second subscribe ack");
    assert.equal(b.ok, true, JSON.stringify(b));
    await initial;
    await sleep(2500);
  } finally {
    socket.close();
    await sleep(200);
    srv.child.kill("SIGINT");
    await withTimeout(srv.exited, "serve to stop");
  }
  return sessionId(name);
}

/** Per-event counts of the recorded socket that emitted (c2s sent, s2c received). */
function recordedMix(events) {
  const sid = events.find((e) => e.direction === "c2s" && e.event === "subscribe").socket_id;
  // One client was recorded: its socket's events plus the room broadcasts it got.
  const mine = events.filter((e) => e.namespace === "/dashboard" && (e.socket_id === sid || !e.socket_id));
  const mix = {};
  for (const e of mine) {
    if (e.event === "connect" || e.event === "disconnect") continue;
    const m = (mix[e.event] ??= { sent: 0, received: 0 });
    if (e.direction === "c2s") m.sent++;
    else m.received++;
  }
  const ts = events.filter((e) => e.socket_id === sid).map((e) => e.ts);
  return { mix, lifetimeMs: Math.round((Math.max(...ts) - Math.min(...ts)) / 1000) };
}

async function generate(session, vary) {
  const file = join(dir, `scenario-${vary.length ? "vary" : "plain"}.json`);
  const r = await run(["scenario", "from", String(session), "--db", db, "-o", file, ...vary.flatMap((v) => ["--vary", v])]);
  assert.equal(r.code, 0, r.stderr);
  return { file, scenario: JSON.parse(readFileSync(file, "utf8")) };
}

async function simulate(file, extra) {
  const r = await run(["simulate", "--file", file, "--clients", String(CLIENTS), "--ramp", "100ms", "--tick-ms", TICK_MS, "--json", ...extra]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  return JSON.parse(r.stdout);
}

let session;
let recorded;
test.before(async () => {
  session = await recordSession("viewer");
  recorded = recordedMix(await sessionEvents(session));
});

test("scenario from: the generated file reproduces the recorded socket", async () => {
  const { scenario } = await generate(session, ["entityId=uuid"]);
  assert.equal(scenario.profile, "analytics");
  assert.equal(scenario.namespace, "/dashboard");
  assert.deepEqual(scenario.auth, { token: "{{token}}" });
  const emits = scenario.setup.filter((s) => s.emit_with_ack).map((s) => [s.emit_with_ack.event, s.emit_with_ack.data.entityId]);
  assert.deepEqual(emits, [["subscribe", "{{uuid}}"], ["unsubscribe", "{{uuid}}"], ["subscribe", "{{uuid:1}}"]]);
  // It waited for dashboard:initial before the unsubscribe, and thought about 2 s.
  const waits = scenario.setup.filter((s) => s.wait_for).map((s) => s.wait_for.event);
  assert.ok(waits.includes("dashboard:initial"), JSON.stringify(scenario.setup));
  const thinks = scenario.setup.filter((s) => s.think).map((s) => s.think.ms);
  assert.ok(thinks.some((ms) => ms >= 1500 && ms <= 2600), `think times ${thinks}`);
  // Bad --vary: one line, exit 2.
  const bad = await run(["scenario", "from", String(session), "--db", db, "--vary", "entityId=random"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split("\n")[0].startsWith("sockscope: error:"), true, bad.stderr);
  const none = await run(["scenario", "from", "999", "--db", db]);
  assert.equal(none.code, 2, none.stderr);
});

test("scenario from --vary entityId=uuid: 50 embedded clients, all connected, no collisions, the recorded mix", async (t) => {
  const { file } = await generate(session, ["entityId=uuid"]);
  const duration = `${recorded.lifetimeMs + 100}ms`;
  const report = await simulate(file, ["--embedded", "--duration", duration]);
  assert.equal(report.connected, CLIENTS, JSON.stringify(report.errors_by_kind));
  assert.equal(report.failed, 0);
  assert.equal(report.errors, 0, JSON.stringify(report.errors_by_kind));
  assert.equal(report.events.find((e) => e.event === "error"), undefined, "no refusals");
  assert.equal(report.acks_ok, CLIENTS * 3);
  t.diagnostic(`recorded ${JSON.stringify(recorded)}; simulated ${JSON.stringify(report.events)} over ${report.connected} clients`);
  for (const [event, want] of Object.entries(recorded.mix)) {
    const got = report.events.find((e) => e.event === event) ?? { sent: 0, received: 0 };
    for (const dir of ["sent", "received"]) {
      const per = got[dir] / CLIENTS;
      assert.ok(Math.abs(per - want[dir]) <= want[dir] * 0.1, `${event} ${dir}: ${per} per client vs ${want[dir]} recorded (${JSON.stringify(recorded.mix)})`);
    }
  }
});

test("scenario from --vary: the ids the clients sent are distinct (recorded by a served gateway)", async () => {
  const { file } = await generate(session, ["entityId=uuid"]);
  const srv = await serve(["--port", "0", "--profile", "analytics", "--jwt-secret", SECRET, "--tick-ms", TICK_MS, "--record", "load", "--db", db]);
  let report;
  try {
    report = await simulate(file, ["--target", srv.url, "--jwt-secret", SECRET, "--duration", "2s"]);
  } finally {
    srv.child.kill("SIGINT");
    await withTimeout(srv.exited, "serve to stop");
  }
  assert.equal(report.connected, CLIENTS, JSON.stringify(report.errors_by_kind));
  const subs = (await sessionEvents(await sessionId("load"))).filter((e) => e.direction === "c2s" && e.event === "subscribe");
  assert.equal(subs.length, CLIENTS, "the first subscribe of every client (2 s run)");
  const ids = new Set(subs.map((e) => e.args[0].entityId));
  assert.equal(ids.size, CLIENTS, "one entity per client");
  for (const id of ids) assert.match(id, /^[0-9a-f-]{36}$/);
  assert.ok(subs.every((e) => e.ack?.reply?.ok === true), "every subscribe accepted");
});

test("scenario from without --vary: the same 50 clients collide on the recorded entity (negative control)", async () => {
  const { file, scenario } = await generate(session, []);
  assert.equal(scenario.setup.find((s) => s.emit_with_ack).emit_with_ack.data.entityId, "ent-a");
  const report = await simulate(file, ["--embedded", "--duration", `${recorded.lifetimeMs + 100}ms`]);
  assert.equal(report.connected, CLIENTS, "they connect; the collision is in the subscribe");
  // Every globex client (every second one) is refused the acme client's entity: the
  // gateway's error event, no dashboard:initial, and the script stops at its wait.
  const count = (event, dir = "received") => report.events.find((e) => e.event === event)?.[dir] ?? 0;
  assert.equal(count("error"), CLIENTS / 2, JSON.stringify(report.events));
  // The acme half gets both of its dashboards, the globex half none.
  assert.equal(count("dashboard:initial"), CLIENTS);
  // So the mix check the --vary run passes fails here.
  const per = count("subscribe", "sent") / CLIENTS;
  assert.ok(Math.abs(per - recorded.mix.subscribe.sent) > recorded.mix.subscribe.sent * 0.1, `subscribe per client ${per}`);
});
