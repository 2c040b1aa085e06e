// `simulate --shard I/N --start-at T --report-out F` and `report merge`: one run
// split over processes adds up to the run one process makes. Against a real
// `sockscope serve` (jet-admin profile), 3 shard processes of 20 clients each are
// merged and compared with a single process running all 60: every count (connected,
// failed, messages by event, acks, drops by cause) must be equal. The merged
// percentiles are checked against the shards' histograms decoded and added by an
// independent implementation (npm hdr-histogram-js), not by our own code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hdr from "hdr-histogram-js";
import { run, serve } from "./harness.mjs";

const SCENARIO = new URL("./fixtures/shard-check.scenario.json", import.meta.url).pathname;
const CLIENTS = 60;
const SHARDS = 3;

/** What a run must report whatever its split: everything but timing. */
function counts(r) {
  return {
    clients: r.clients,
    connected: r.connected,
    failed: r.failed,
    events_sent: r.events_sent,
    events_received: r.events_received,
    acks_ok: r.acks_ok,
    acks_timed_out: r.acks_timed_out,
    errors: r.errors,
    errors_by_kind: r.errors_by_kind,
    events: r.events,
  };
}

function simulateArgs(url, extra) {
  return [
    "simulate", "--file", SCENARIO, "--target", url, "--clients", String(CLIENTS),
    "--ramp", "1s", "--duration", "4s", "--json", ...extra,
  ];
}

function decode(b64) {
  return hdr.decodeFromCompressedBase64(b64, 64, false);
}

test("simulate: 3 shards of 20 clients merge to the counts of one run of 60", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jet-admin", "--tick-ms", "200"]);
  t.after(() => srv.child.kill());
  const dir = mkdtempSync(join(tmpdir(), "sockscope-shards-"));

  // The shards share a start time 3 s ahead: each waits for it, whenever it started.
  const startAt = (Date.now() / 1000 + 3).toFixed(3);
  const shardRuns = await Promise.all(
    Array.from({ length: SHARDS }, (_, i) =>
      run(simulateArgs(srv.url, ["--shard", `${i}/${SHARDS}`, "--start-at", startAt, "--report-out", join(dir, `shard-${i}.json`)])),
    ),
  );
  const finishedAt = Date.now() / 1000;
  for (const r of shardRuns) assert.equal(r.code, 0, r.stderr);
  const shardReports = shardRuns.map((r) => JSON.parse(r.stdout));
  assert.deepEqual(shardReports.map((r) => r.clients), [20, 20, 20]);
  // They waited: the run (4 s) ended no earlier than 4 s after the shared start.
  assert.ok(finishedAt >= Number(startAt) + 4, `finished ${finishedAt} before ${Number(startAt) + 4}`);

  const single = await run(simulateArgs(srv.url, ["--report-out", join(dir, "single.json")]));
  assert.equal(single.code, 0, single.stderr);
  const one = JSON.parse(single.stdout);

  const merged = await run([
    "report", "merge", "--json", "--out", join(dir, "merged.json"),
    ...Array.from({ length: SHARDS }, (_, i) => join(dir, `shard-${i}.json`)),
  ]);
  assert.equal(merged.code, 0, merged.stderr);
  const all = JSON.parse(merged.stdout);

  // The scenario's fixed amounts, so "equal" cannot be two equally broken runs.
  assert.equal(one.connected, CLIENTS, JSON.stringify(one.errors_by_kind));
  assert.equal(one.acks_ok, 4 * CLIENTS);
  assert.deepEqual(one.errors_by_kind, [{ kind: "wait_timeout", count: CLIENTS }]);
  assert.deepEqual(
    one.events.map((e) => [e.event, e.sent, e.received]),
    [["ai_chat_bot_message", 0, CLIENTS], ["ai_chat_room_join", 0, CLIENTS], ["ai_chat_user_message", CLIENTS, 0], ["shard_probe", 3 * CLIENTS, 0]],
  );
  assert.deepEqual(counts(all), counts(one));
  // Positive control: one shard alone is a third of the run, and the comparison sees it.
  assert.notDeepEqual(counts(shardReports[0]), counts(one));

  // Percentiles: the shards' histograms, added by hdr-histogram-js, give the merged
  // report's figures (same histograms, so equal within the 3-digit precision).
  const files = Array.from({ length: SHARDS }, (_, i) => JSON.parse(readFileSync(join(dir, `shard-${i}.json`), "utf8")));
  for (const [name, key] of [["connect", "connect_latency"], ["ack", "ack_latency"], ["delivery", "delivery_latency"]]) {
    const sum = decode(files[0].histograms[name]);
    for (const f of files.slice(1)) sum.add(decode(f.histograms[name]));
    const got = all[key];
    assert.equal(got.count, sum.totalCount, `${name} count`);
    for (const [p, field] of [[50, "p50_ms"], [95, "p95_ms"], [99, "p99_ms"]]) {
      const want = sum.getValueAtPercentile(p) / 1000;
      // Both sides report a value equivalent within the histogram's resolution.
      assert.ok(Math.abs(got[field] - want) <= want * 0.001 + 0.001, `${name} ${field}: merged ${got[field]} vs js ${want}`);
    }
    assert.ok(Math.abs(got.max_ms - sum.maxValue / 1000) <= (sum.maxValue / 1000) * 0.001 + 0.001, `${name} max`);
  }
  // The merged file is itself mergeable and knows it covers every shard.
  const mergedFile = JSON.parse(readFileSync(join(dir, "merged.json"), "utf8"));
  assert.deepEqual(mergedFile.shards, [0, 1, 2]);
  assert.equal(mergedFile.histograms.connect.slice(0, 5), "HISTF", "the standard compressed HdrHistogram base64");
});

test("report merge: a shard twice, a missing shard, a foreign or broken file are refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-merge-bad-"));
  // Two small real shard reports of the embedded-free kind need a target: write
  // them from a run against serve.
  const srv = await serve(["--port", "0", "--profile", "jet-admin", "--tick-ms", "200"]);
  try {
    for (const i of [0, 1]) {
      const r = await run([
        "simulate", "--file", SCENARIO, "--target", srv.url, "--clients", "4", "--ramp", "0s",
        "--duration", "2s", "--json", "--shard", `${i}/2`, "--report-out", join(dir, `s${i}.json`),
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    srv.child.kill();
  }
  const s0 = join(dir, "s0.json");
  const s1 = join(dir, "s1.json");
  const twice = await run(["report", "merge", s0, s0]);
  assert.equal(twice.code, 2, twice.stderr);
  assert.match(twice.stderr, /shard 0 is already in the merge/);
  const missing = await run(["report", "merge", s0]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /shard\(s\) 1 of 2 missing/);
  const broken = join(dir, "broken.json");
  const doc = JSON.parse(readFileSync(s1, "utf8"));
  doc.histograms.ack = doc.histograms.ack.slice(0, 20);
  writeFileSync(broken, JSON.stringify(doc));
  const bad = await run(["report", "merge", s0, broken]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /ack histogram/);
  assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  const foreign = join(dir, "foreign.json");
  writeFileSync(foreign, JSON.stringify({ scenario: "x" }));
  const notOurs = await run(["report", "merge", foreign]);
  assert.equal(notOurs.code, 2);
  assert.match(notOurs.stderr, /not a mergeable simulation report/);
  const wait = await run(["report", "merge", "--wait", "1s", s0, join(dir, "never.json")]);
  assert.notEqual(wait.code, 0);
  assert.match(wait.stderr, /still missing after 1 s: .*never\.json/);
  // Positive control: the two real shards merge, and --partial takes one alone.
  const ok = await run(["report", "merge", "--json", s0, s1]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).clients, 4);
  // --ensure gates the merged run: every client connected, but each timed out once.
  const gate = await run(["report", "merge", "--ensure", "connected>=99%", "--ensure", "errors==0", s0, s1]);
  assert.equal(gate.code, 1, gate.stderr);
  assert.match(gate.stderr, /ensure connected>=99%: holds/);
  assert.match(gate.stderr, /ensure failed: errors==0 \(was 4\)/);
  const partial = await run(["report", "merge", "--partial", "--json", s1]);
  assert.equal(partial.code, 0, partial.stderr);
  assert.equal(JSON.parse(partial.stdout).clients, 2);
});

test("simulate: bad shard and start flags are one line and exit 2", async () => {
  for (const [args, want] of [
    [["--shard", "3/3"], /--shard "3\/3": expected I\/N/],
    [["--shard", "1/2", "--embedded"], /--shard needs --target/],
    [["--start-at", "yesterday"], /--start-at "yesterday": expected Unix seconds/],
    [["--start-at", "1000"], /the run .* is already over/],
  ]) {
    const target = args.includes("--embedded") ? [] : ["--target", "http://127.0.0.1:9"];
    const r = await run(["simulate", "--file", SCENARIO, ...target, "--duration", "1s", "--ramp", "0s", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, want);
  }
});
