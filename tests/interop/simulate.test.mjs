// `sockscope simulate`: virtual clients against the embedded analytics profile (the
// report's counts must add up), against a Node socket.io server written here (our
// lightweight client and minted tokens against the reference implementation), and
// bad input (one line on stderr, exit code 2).
import { test } from "node:test";
import assert from "node:assert/strict";
import { hs256Sign } from "../jwt.mjs";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "socket.io";
import { run, withTimeout } from "./harness.mjs";

/** Checks every invariant a report promises; returns the metric:update count. */
function checkCounts(report, clients) {
  assert.equal(report.clients, clients);
  assert.equal(report.connected + report.failed, report.clients, "connected + failed == clients");
  const sum = (xs, f) => xs.reduce((n, x) => n + f(x), 0);
  assert.equal(sum(report.errors_by_kind, (e) => e.count), report.errors, "errors by kind sum to errors");
  assert.equal(sum(report.events, (e) => e.sent), report.events_sent, "per-event sent sums to events_sent");
  assert.equal(sum(report.events, (e) => e.received), report.events_received, "per-event received sums");
  const secs = report.elapsed_ms / 1000;
  assert.ok(secs > 0, "elapsed");
  // The rates are the counts over the elapsed time (ms rounding allowed).
  assert.ok(Math.abs(report.received_per_sec - report.events_received / secs) <= report.received_per_sec * 0.01 + 0.01,
    `received_per_sec ${report.received_per_sec} vs ${report.events_received}/${secs}`);
  assert.ok(Math.abs(report.sent_per_sec - report.events_sent / secs) <= report.sent_per_sec * 0.01 + 0.01,
    `sent_per_sec ${report.sent_per_sec} vs ${report.events_sent}/${secs}`);
  for (const l of [report.connect_latency, report.ack_latency, report.delivery_latency]) {
    assert.ok(l.p50_ms <= l.p95_ms && l.p95_ms <= l.p99_ms && l.p99_ms <= l.max_ms, JSON.stringify(l));
  }
  return report.events.find((e) => e.event === "metric:update")?.received ?? 0;
}

test("simulate: 200 clients against the embedded analytics profile; counts add up", async () => {
  const { code, stdout, stderr } = await run([
    "simulate", "analytics-dashboard", "--embedded", "--clients", "200", "--ramp", "1s", "--duration", "3s", "--json",
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  const metric = checkCounts(report, 200);
  assert.equal(report.embedded, true);
  assert.equal(report.connected, 200, JSON.stringify(report.errors_by_kind));
  assert.equal(report.failed, 0);
  assert.equal(report.errors, 0, JSON.stringify(report.errors_by_kind));
  assert.ok(metric > 0, "metric:update received");
  // One subscribe each, each acked, each answered with dashboard:initial.
  assert.equal(report.events.find((e) => e.event === "subscribe")?.sent, 200);
  assert.equal(report.acks_ok, 200);
  assert.equal(report.events.find((e) => e.event === "dashboard:initial")?.received, 200);
  assert.equal(report.connect_latency.count, 200);
  assert.ok(report.delivery_latency.count >= metric, "every tick's timestamp measured");
  assert.ok(report.elapsed_ms >= 3000 && report.elapsed_ms < 10_000, `elapsed ${report.elapsed_ms}`);
});

test("simulate: a Node socket.io server as the target, real HS256 tokens", async (t) => {
  const SECRET = "node-target-secret";
  const http = createServer();
  const io = new Server(http);
  t.after(() => io.close());
  let rejected = 0;
  const tenants = new Set();
  io.of("/dashboard").use((socket, next) => {
    const [head, body, sig] = String(socket.handshake.auth?.token ?? "").split(".");
    const good = hs256Sign(SECRET, `${head}.${body}`);
    if (!sig || sig !== good) {
      rejected++;
      return next(new Error("bad signature"));
    }
    socket.data.tenant = JSON.parse(Buffer.from(body, "base64url")).tenantId;
    tenants.add(socket.data.tenant);
    next();
  });
  io.of("/dashboard").on("connection", (socket) => {
    socket.on("subscribe", ({ entityId, entityType }, ack) => {
      ack?.({ ok: true, entityId });
      socket.emit("dashboard:initial", { entityId, entityType, metrics: {}, tiles: [] });
      const timer = setInterval(() => {
        // Epoch milliseconds this time (the embedded gateway sends ISO strings).
        socket.emit("metric:update", { entityId, metricName: "attendees", value: 1, timestamp: Date.now() });
      }, 100);
      socket.on("disconnect", () => clearInterval(timer));
    });
  });
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${http.address().port}`;

  const { code, stdout, stderr } = await run([
    "simulate", "analytics-dashboard", "--target", url, "--jwt-secret", SECRET, "--tenants", "t1,t2,t3",
    "--clients", "20", "--ramp", "200ms", "--duration", "1500ms", "--json",
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  const metric = checkCounts(report, 20);
  assert.equal(report.embedded, false);
  assert.equal(report.connected, 20, JSON.stringify(report.errors_by_kind));
  assert.equal(rejected, 0);
  assert.deepEqual([...tenants].sort(), ["t1", "t2", "t3"]);
  assert.equal(report.acks_ok, 20);
  assert.ok(metric >= 20 * 5, `metric:update ${metric}`);
  assert.ok(report.delivery_latency.count >= metric);

  // A wrong secret: every handshake refused, each counted as a connect_error.
  const wrong = await run([
    "simulate", "analytics-dashboard", "--target", url, "--jwt-secret", "not-the-secret",
    "--clients", "5", "--ramp", "0s", "--duration", "500ms", "--json",
  ]);
  assert.equal(wrong.code, 0, wrong.stderr);
  const refused = JSON.parse(wrong.stdout);
  checkCounts(refused, 5);
  assert.equal(refused.failed, 5);
  assert.deepEqual(refused.errors_by_kind, [{ kind: "connect_error", count: 5 }]);
});

test("simulate: bad input is one line on stderr and exit code 2", async () => {
  const oneLine = (stderr) => stderr.trim().split("\n").filter((l) => l.startsWith("sockscope: error:"));

  const unknown = await run(["simulate", "nope", "--embedded", "--clients", "1", "--duration", "2s"]);
  assert.equal(unknown.code, 2);
  assert.equal(oneLine(unknown.stderr).length, 1, unknown.stderr);
  assert.match(unknown.stderr, /unknown scenario "nope".*analytics-dashboard.*steedos-records/);

  const dir = mkdtempSync(join(tmpdir(), "sockscope-sim-"));
  const file = join(dir, "broken.json");
  writeFileSync(file, '{\n  "name": "broken",\n  "steps": [\n    { "emitt": { "event": "x" } }\n  ]\n}\n');
  const broken = await run(["simulate", "--file", file, "--embedded", "--duration", "2s"]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, new RegExp(`bad scenario .*broken\\.json at line 4: .*emitt`));
  assert.equal(oneLine(broken.stderr).length, 1, broken.stderr);

  // A port that was free a moment ago: nothing listens there.
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = probe.address().port;
  await new Promise((resolve) => probe.close(resolve));
  const unreachable = await withTimeout(
    run(["simulate", "ai-chat", "--target", `http://127.0.0.1:${port}`, "--duration", "2s"]),
    "simulate against a closed port",
  );
  assert.equal(unreachable.code, 2);
  assert.match(unreachable.stderr, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}`));

  const ramp = await run(["simulate", "ai-chat", "--embedded", "--ramp", "5s", "--duration", "2s"]);
  assert.equal(ramp.code, 2);
  assert.match(ramp.stderr, /--ramp must be shorter than --duration/);
});
