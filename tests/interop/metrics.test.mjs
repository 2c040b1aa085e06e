// `--metrics ADDR` on `serve` and `simulate`, scraped by a real Prometheus (Debian's
// `prometheus`, started here with a temporary config, 1 s scrape interval) and read
// back through its HTTP API, so the exposition is checked by the monitoring people
// already run rather than by our own parser: socket counts, events by name, latency
// histogram buckets, and a drop cause that must be exported as zero.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io as connect } from "socket.io-client";
import { once, run, serve, sockscopeBin, withTimeout } from "./harness.mjs";

function prometheusBin() {
  const bin = process.env.PROMETHEUS;
  if (!bin) throw new Error("PROMETHEUS is not set: run these tests through `cargo xtask test` (it installs Debian's prometheus)");
  return bin;
}

/** A port free right now (bound, noted, released). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts Prometheus scraping `targets` ({job: "host:port"}) every second. */
async function startPrometheus(t, targets) {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-prom-"));
  const jobs = Object.entries(targets)
    .map(([job, addr]) => `  - job_name: ${job}\n    static_configs:\n      - targets: ["${addr}"]\n`)
    .join("");
  const config = join(dir, "prometheus.yml");
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n${jobs}`);
  const port = await freePort();
  const child = spawn(prometheusBin(), [
    `--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  t.after(() => child.kill());
  const base = `http://127.0.0.1:${port}`;
  await poll(async () => (await fetch(`${base}/-/ready`).catch(() => null))?.ok, () => `prometheus to be ready: ${stderr}`, 30_000);
  // Prometheus hands new targets to its scrapers only every few seconds after start:
  // wait until every job is a scrape target, so a short run is not missed.
  await poll(async () => {
    const body = await (await fetch(`${base}/api/v1/targets`)).json();
    const jobs = new Set(body.data.activeTargets.map((a) => a.labels.job));
    return Object.keys(targets).every((j) => jobs.has(j));
  }, () => `prometheus to pick up its targets: ${stderr}`, 30_000);
  return {
    base,
    /** The instant vector of `q` as [{metric, value}] with numeric values. */
    async query(q) {
      const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = await r.json();
      assert.equal(body.status, "success", JSON.stringify(body));
      return body.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
    },
  };
}

async function poll(check, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "function" ? what() : what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until `q` has exactly one series whose value satisfies `ok`; returns it. */
async function until(prom, q, ok, what) {
  let seen = [];
  return poll(async () => {
    seen = await prom.query(q);
    return seen.length === 1 && ok(seen[0].value) ? seen[0].value : null;
  }, () => `${what} (${q} was ${JSON.stringify(seen)})`);
}

test("serve --metrics: Prometheus scrapes sockets, events by name, a latency bucket and a zero drop count", async (t) => {
  const metricsPort = await freePort();
  const srv = await serve(["--port", "0", "--metrics", `127.0.0.1:${metricsPort}`]);
  t.after(() => srv.child.kill());
  assert.match(srv.stderr(), new RegExp(`metrics: http://127.0.0.1:${metricsPort}/metrics`));
  const prom = await startPrometheus(t, { serve: `127.0.0.1:${metricsPort}` });
  await until(prom, 'up{job="serve"}', (v) => v === 1, "the scrape to succeed");

  const sockets = [];
  for (let i = 0; i < 3; i++) {
    const s = connect(srv.url, { transports: ["websocket"], forceNew: true });
    sockets.push(s);
    await once(s, "connect", `socket ${i} to connect`);
  }
  t.after(() => sockets.forEach((s) => s.close()));
  for (const s of sockets) {
    for (let n = 0; n < 5; n++) {
      await withTimeout(s.emitWithAck("chat", { n }), "chat ack");
    }
  }
  // One event stamped 250 ms ago: a delivery sample above 0.2048 s, below 0.4096 s.
  const stamped = new Date(Date.now() - 250).toISOString();
  await withTimeout(sockets[0].emitWithAck("stamped", { timestamp: stamped }), "stamped ack");

  assert.equal(await until(prom, 'sockscope_sockets{job="serve",namespace="/"}', (v) => v === 3, "3 sockets"), 3);
  assert.equal(await until(prom, 'sockscope_events_total{job="serve",event="chat",direction="c2s"}', (v) => v === 15, "15 chat events"), 15);
  await until(prom, 'sockscope_events_total{job="serve",event="stamped",direction="c2s"}', (v) => v === 1, "the stamped event");
  const buckets = await prom.query('sockscope_delivery_latency_seconds_bucket{job="serve"}');
  const at = (le) => buckets.find((b) => Number(b.metric.le) >= le * 0.999 && Number(b.metric.le) <= le * 1.001)?.value;
  assert.equal(at(0.2048), 0, JSON.stringify(buckets));
  assert.equal(at(0.4096), 1, JSON.stringify(buckets));
  assert.equal(buckets.find((b) => b.metric.le === "+Inf")?.value, 1);
  // Control: nothing was dropped, and the series says so (present, zero).
  const lagged = await prom.query('sockscope_drops_total{job="serve",cause="bus_lagged"}');
  assert.deepEqual(lagged.map((s) => s.value), [0]);
  // A name nobody sent has no series: the queries above are not vacuous.
  assert.deepEqual(await prom.query('sockscope_events_total{job="serve",event="never"}'), []);

  sockets[2].close();
  assert.equal(await until(prom, 'sockscope_sockets{job="serve",namespace="/"}', (v) => v === 2, "a socket to leave"), 2);
});

test("simulate --metrics: Prometheus sees the virtual clients, their events and ack latency", async (t) => {
  const metricsPort = await freePort();
  const prom = await startPrometheus(t, { simulate: `127.0.0.1:${metricsPort}` });
  const child = spawn(sockscopeBin(), [
    "simulate", "analytics-dashboard", "--embedded", "--clients", "5", "--ramp", "200ms", "--duration", "6s",
    "--tick-ms", "200", "--json", "--metrics", String(metricsPort), "--metrics-hold", "4s",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("close", resolve));
  t.after(() => child.kill());

  assert.equal(await until(prom, 'sockscope_sockets{job="simulate",namespace="/dashboard"}', (v) => v === 5, "5 virtual clients"), 5);
  await until(prom, 'sockscope_events_total{job="simulate",event="subscribe",direction="c2s"}', (v) => v === 5, "5 subscribes");
  await until(prom, 'sockscope_events_total{job="simulate",event="metric:update",direction="s2c"}', (v) => v > 0, "metric pushes");
  await until(prom, 'sockscope_ack_latency_seconds_count{job="simulate"}', (v) => v === 5, "5 acks timed");
  const code = await withTimeout(exited, "simulate to finish", 30_000);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.acks_ok, 5);
  // The last scrape (during --metrics-hold) agrees with the report, and the
  // declared drop causes are zero like the report's errors.
  // The target is gone now (stale in Prometheus): read the last scraped samples.
  const received = await prom.query('sum(last_over_time(sockscope_events_total{job="simulate",direction="s2c"}[1m]))');
  assert.equal(received[0].value, report.events_received);
  const timeouts = await prom.query('last_over_time(sockscope_drops_total{job="simulate",cause="ack_timeout"}[1m])');
  assert.deepEqual(timeouts.map((s) => s.value), [0]);
  assert.equal(report.errors, 0);
});

test("--metrics stays on loopback unless asked", async () => {
  const r = await run(["serve", "--port", "0", "--metrics", "0.0.0.0:1"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /not a loopback address.*--metrics-allow-remote/);
  const bad = await run(["serve", "--port", "0", "--metrics", "nonsense"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /expected PORT or HOST:PORT/);
  // Positive control: a taken port is a bind error, i.e. a loopback address passed the check.
  const holder = createServer();
  await new Promise((resolve) => holder.listen(0, "127.0.0.1", resolve));
  try {
    const taken = await run(["serve", "--port", "0", "--metrics", String(holder.address().port)]);
    assert.equal(taken.code, 2);
    assert.match(taken.stderr, /cannot listen for metrics on 127\.0\.0\.1/);
  } finally {
    holder.close();
  }
});
