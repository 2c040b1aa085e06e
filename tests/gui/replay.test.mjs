// Issue 6 in the real window: import a production recording from the Recordings
// panel, replay it from the Replay panel against a Node socket.io 4.8 staging server
// with a rewrite and 4x speed, and read the drift report that names the event the
// staging server answers differently.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SECRET, hs256, stagingGateway } from "./peers.mjs";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";

/** A recording "made against production": client events with acks, server pushes. */
function production() {
  const t0 = 1_795_000_000_000_000;
  const rec = (seq, ms, direction, event, args, ack) => ({
    seq, ts: t0 + ms * 1000, source: "connection:1", direction, namespace: "/dashboard", event, args,
    ...(ack ? { ack } : {}),
  });
  return [
    rec(1, 0, "c2s", "subscribe", [{ entityId: "e1", count: 2 }]),
    rec(2, 5, "s2c", "metric:update", [{ entityId: "e1", i: 1, value: 10 }]),
    rec(3, 6, "s2c", "metric:update", [{ entityId: "e1", i: 2, value: 20 }]),
    rec(4, 400, "c2s", "echo", [{ ping: 1 }], { id: 1, reply: { echo: { ping: 1 }, tenant: "acme" } }),
    rec(5, 800, "c2s", "set_tenant", [{ tenantID: "tenant-a" }], { id: 2, reply: { ok: true, tenant: "tenant-b" } }),
  ].map((r) => JSON.stringify(r)).join("\n") + "\n";
}

test("Replay panel: a recording replayed against staging shows the drifting ack", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const gw = await stagingGateway();
  t.after(() => gw.close());
  const dir = mkdtempSync(join(tmpdir(), "sockscope-gui-replay-"));
  const file = join(dir, "production.jsonl");
  writeFileSync(file, production());

  const s = await openApp(t, { SOCKSCOPE_DB: join(dir, "replay.db") });
  mkdirSync(artifacts, { recursive: true });

  // Import the recording.
  await s.waitFor("#tab-recordings", "the Recordings tab");
  await s.click("#tab-recordings");
  await s.type("#session-path", file);
  await s.click("#session-import");
  await s.until(async () => /imported 5 events/.test(await s.text("#recordings-note")), "the import");
  const id = (await s.text("#recordings-note")).match(/as session (\d+)/)[1];

  await s.click("#tab-replay");
  await s.waitFor(`#replay-session option[value="${id}"]`, "the recording in the Replay panel");
  // Nothing chosen yet: a one-line reason.
  await s.click("#replay-run");
  await s.until(async () => /pick a recording/.test(await s.text("#replay-note")), "the missing-recording message");

  await s.click(`#replay-session option[value="${id}"]`);
  await s.type("#replay-url", gw.url);
  await s.type("#replay-token", hs256(SECRET, { sub: "ann", tenantId: "acme" }));
  await s.type("#replay-speed", "4");
  await s.type("#replay-rewrites", "tenant-a=>tenant-b");
  await s.click("#replay-run");
  await s.until(async () => /drift found: 3 events sent, new session \d+/.test(await s.text("#replay-note")), "the replay to finish", 30_000);

  assert.equal(await s.text("#drift-verdict"), "drift found");
  await s.waitFor('[data-testid="drift-ack"][data-event="set_tenant"]', "set_tenant among the differing acks");
  assert.equal((await s.findAll('[data-testid="drift-ack"]')).length, 1, "only set_tenant differs");
  const counts = await s.innerText('[data-testid="drift-count"][data-event="metric:update"]');
  assert.match(counts, /metric:update\s+2\s+2/);

  // The staging server got the recording's events in order, rewritten.
  assert.deepEqual(gw.received.map((r) => r.event), ["subscribe", "echo", "set_tenant"]);
  assert.deepEqual(gw.received[2].args, [{ tenantID: "tenant-b" }]);
  writeFileSync(join(artifacts, "replay-panel.png"), await s.screenshot());
});

test("Replay panel, server side: the gateway plays a recording to a Node client; pause and resume", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set");
  const { io } = await import("socket.io-client");
  const dir = mkdtempSync(join(tmpdir(), "sockscope-gui-sreplay-"));
  const file = join(dir, "yesterday.jsonl");
  const t0 = 1_795_000_000_000_000;
  // Yesterday's stream: five order events 300 ms apart to the public `orders` room,
  // and one to another room that this client never joins.
  const lines = [1, 2, 3, 4, 5].map((i) => ({
    seq: i, ts: t0 + i * 300_000, source: "gateway", direction: "s2c", namespace: "/", event: "order",
    args: [{ n: i }], rooms: ["public:orders"],
  }));
  lines.push({ seq: 6, ts: t0 + 1_900_000, source: "gateway", direction: "s2c", namespace: "/", event: "order",
    args: [{ n: 99 }], rooms: ["public:invoices"] });
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");

  const s = await openApp(t, { SOCKSCOPE_DB: join(dir, "s.db") });

  await s.waitFor("#gateway-start", "the Server panel");
  await s.type("#gateway-port", "0");
  await s.click("#gateway-start");
  await s.until(async () => (await s.text("#gateway-state")) === "running", "the gateway to run");
  const client = io(await s.text("#gateway-addr"), { transports: ["websocket"], reconnection: false, forceNew: true });
  t.after(() => client.close());
  const got = [];
  client.on("order", (d) => got.push(d.n));
  await new Promise((resolve, reject) => {
    client.once("connect", resolve);
    client.once("connect_error", reject);
  });
  await client.timeout(5000).emitWithAck("subscribe", { room: "orders" });

  await s.click("#tab-recordings");
  await s.type("#session-path", file);
  await s.click("#session-import");
  await s.until(async () => /imported 6 events/.test(await s.text("#recordings-note")), "the import");
  const id = (await s.text("#recordings-note")).match(/as session (\d+)/)[1];

  await s.click("#tab-replay");
  await s.waitFor(`#replay-session option[value="${id}"]`, "the recording in the Replay panel");
  await s.click(`#replay-session option[value="${id}"]`);
  await s.click("#server-replay-start");
  await s.until(async () => got.length >= 1, "the first replayed event");
  await s.click("#server-replay-pause");
  await s.until(async () => /^paused/.test(await s.text("#server-replay-status")), "the paused state");
  const atPause = got.length;
  await new Promise((r) => setTimeout(r, 900));
  assert.equal(got.length, atPause, "events kept coming while paused");
  await s.click("#server-replay-resume");
  await s.until(async () => /^finished: 6 \/ 6 sent/.test(await s.text("#server-replay-status")), "the replay to finish");
  assert.deepEqual(got, [1, 2, 3, 4, 5], "the client got its room's events, in order, and nothing else");
});

test("Simulator panel: 20 virtual clients against the embedded analytics profile", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set");
  const s = await openApp(t, { SOCKSCOPE_DB: join(mkdtempSync(join(tmpdir(), "sockscope-gui-sim-")), "sim.db") });
  await s.waitFor("#tab-simulator", "the Simulator tab");
  await s.click("#tab-simulator");
  await s.waitFor('#sim-scenario option[value="analytics-dashboard"]', "the built-in scenarios");
  await s.type("#sim-clients", "zero");
  await s.click("#sim-start");
  await s.until(async () => /clients "zero" is not a positive whole number/.test(await s.text("#sim-note")), "the bad-input message");

  await s.type("#sim-clients", "20");
  await s.type("#sim-ramp", "0.5");
  await s.type("#sim-duration", "3");
  await s.click("#sim-start");
  await s.waitFor("#sim-report", "the report", 30_000);
  const summary = await s.text("#sim-summary");
  assert.match(summary, /analytics-dashboard: 20 clients, 20 connected, 0 failed/);
  assert.match(summary, /; 0 errors$/);
  // The live charts drew something.
  const points = await s.attr("#sim-throughput polyline", "points");
  assert.ok(points.split(" ").length >= 3, `throughput chart points: ${points}`);
  assert.ok(Number((await s.innerText('[data-testid="sim-event"][data-event="metric:update"]')).split(/\s+/)[2]) > 0);
  writeFileSync(join(artifacts, "simulator-panel.png"), await s.screenshot());
});
