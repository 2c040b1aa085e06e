// Issue 16 point 5 in the real window: import a recording in the Recordings panel,
// infer its contract and read a message's schema, check it against a contract whose
// field was renamed (the violating rows are highlighted with kind and pointer) and
// against the unchanged contract (no violation: the positive control), and write a
// scenario generated from the recording.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";

/** A client subscribes; the gateway pushes two metric updates. */
function recording() {
  const t0 = 1_795_000_000_000_000;
  const rec = (seq, ms, direction, event, args) => ({
    seq, ts: t0 + ms * 1000, source: "connection:1", direction, namespace: "/dashboard", event, args,
  });
  return [
    rec(1, 0, "c2s", "subscribe", [{ entityId: "e1", count: 2 }]),
    rec(2, 5, "s2c", "metric:update", [{ entityId: "e1", i: 1, value: 10 }]),
    rec(3, 6, "s2c", "metric:update", [{ entityId: "e1", i: 2, value: 20 }]),
  ].map((r) => JSON.stringify(r)).join("\n") + "\n";
}

/** An AsyncAPI 3.0 contract of that traffic, with metric:update's id field named `idField`. */
function contract(idField) {
  const object = (props) => ({
    type: "object",
    required: Object.keys(props),
    properties: props,
  });
  return {
    asyncapi: "3.0.0",
    info: { title: "dashboard", version: "1.0.0" },
    channels: {
      dashboard: {
        address: "/dashboard",
        messages: {
          receive_subscribe: {
            name: "subscribe", "x-sockscope-arguments": "single",
            payload: object({ entityId: { type: "string" }, count: { type: "integer" } }),
          },
          send_metric: {
            name: "metric:update", "x-sockscope-arguments": "single",
            payload: object({ [idField]: { type: "string" }, i: { type: "integer" }, value: { type: "integer" } }),
          },
        },
      },
    },
    operations: {
      receive_subscribe: {
        action: "receive", channel: { $ref: "#/channels/dashboard" },
        messages: [{ $ref: "#/channels/dashboard/messages/receive_subscribe" }],
      },
      send_metric: {
        action: "send", channel: { $ref: "#/channels/dashboard" },
        messages: [{ $ref: "#/channels/dashboard/messages/send_metric" }],
      },
    },
  };
}

test("Recordings panel: contract inferred, checked with violations highlighted, scenario written", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const dir = mkdtempSync(join(tmpdir(), "sockscope-gui-contracts-"));
  const file = join(dir, "dashboard.jsonl");
  writeFileSync(file, recording());
  const same = join(dir, "same.json");
  writeFileSync(same, JSON.stringify(contract("entityId")));
  const renamed = join(dir, "renamed.json");
  writeFileSync(renamed, JSON.stringify(contract("entity_id")));

  const s = await openApp(t, { SOCKSCOPE_DB: join(dir, "contracts.db") });
  mkdirSync(artifacts, { recursive: true });

  await s.waitFor("#tab-recordings", "the Recordings tab");
  await s.click("#tab-recordings");
  await s.type("#session-path", file);
  await s.click("#session-import");
  await s.until(async () => /imported 3 events/.test(await s.text("#recordings-note")), "the import");
  const id = (await s.text("#recordings-note")).match(/as session (\d+)/)[1];
  await s.click(`[data-testid="session-row"][data-id="${id}"] [data-testid="session-open"]`);
  await s.waitFor('[data-testid="event-row"][data-seq="2"]', "the opened session's rows");

  // Infer: metric:update is a server event on /dashboard whose schema requires entityId.
  await s.click("#contract-infer");
  const metric = '[data-testid="contract-message"][data-event="metric:update"]';
  await s.waitFor(metric, "metric:update in the inferred contract");
  assert.equal(await s.attr(metric, "data-namespace"), "/dashboard");
  assert.equal(await s.attr(metric, "data-direction"), "↓ s2c");
  const schema = JSON.parse(await s.innerText(`${metric} [data-testid="contract-schema"]`));
  assert.equal(schema.type, "object");
  assert.equal(schema.properties.entityId.type, "string");
  assert.ok(schema.required.includes("entityId"), JSON.stringify(schema));
  await s.waitFor('[data-testid="contract-message"][data-event="subscribe"][data-direction="↑ c2s"]', "subscribe, c2s");

  // Positive control: the contract the traffic honours shows no violation.
  await s.type("#contract-path", same);
  await s.click("#contract-check");
  await s.until(async () => /3 events honour .*no violation/.test(await s.text("#recordings-note")), "the clean check");
  assert.equal((await s.findAll('[data-testid="violation-note"]')).length, 0);

  // The renamed field: both metric updates are highlighted with kind and pointer.
  await s.type("#contract-path", renamed);
  await s.click("#contract-check");
  await s.until(async () => /violation\(s\) of .* in 2 of 3 events/.test(await s.text("#recordings-note")), "the failing check");
  for (const seq of ["2", "3"]) {
    const v = await s.attr(`[data-testid="event-row"][data-seq="${seq}"]`, "data-violation");
    assert.match(v ?? "", /missing_field at \/entity_id/, `row ${seq}: ${v}`);
  }
  assert.equal(await s.attr('[data-testid="event-row"][data-seq="1"]', "data-violation"), null, "subscribe honours it");
  writeFileSync(join(artifacts, "contracts-panel.png"), await s.screenshot());

  // A relative scenario path lands next to the data dir (the database's directory).
  await s.type("#scenario-path", "from-dash.json");
  await s.click("#scenario-from");
  await s.until(async () => /written to .*from-dash\.json/.test(await s.text("#recordings-note")), "the scenario written");
  const written = join(dir, "from-dash.json");
  assert.ok(existsSync(written), `${written} exists`);
  const scenario = JSON.parse(readFileSync(written, "utf8"));
  assert.ok(JSON.stringify(scenario).includes("subscribe"), "the scenario emits subscribe");
});

test("Simulator panel: Ensure conditions judged on the finished run's report", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const s = await openApp(t, { SOCKSCOPE_DB: join(mkdtempSync(join(tmpdir(), "sockscope-gui-ensure-")), "sim.db") });
  await s.waitFor("#tab-simulator", "the Simulator tab");
  await s.click("#tab-simulator");
  await s.waitFor('#sim-scenario option[value="analytics-dashboard"]', "the built-in scenarios");
  await s.type("#sim-clients", "1");
  await s.type("#sim-ramp", "0");
  await s.type("#sim-duration", "2");
  // One condition a line (U+E007 is WebDriver's Enter key).
  await s.type("#sim-ensure", "errors==0\uE007connected>=2");
  await s.click("#sim-start");
  await s.waitFor("#sim-report", "the report", 30_000);
  const verdict = (c) => `[data-testid="ensure-result"][data-condition="${c}"]`;
  await s.waitFor(verdict("errors==0"), "errors==0 judged");
  // Positive control: no error in the run, so errors==0 passes; one client of one
  // connected is a fraction of 1, so connected>=2 fails.
  assert.equal(await s.attr(verdict("errors==0"), "data-holds"), "true");
  await s.waitFor(verdict("connected>=2"), "connected>=2 judged");
  assert.equal(await s.attr(verdict("connected>=2"), "data-holds"), "false");
  assert.match(await s.innerText(verdict("connected>=2")), /failed\s+connected>=2\s+\(was 1\.0000 \(1 of 1\)\)/);
  writeFileSync(join(artifacts, "simulator-ensure.png"), await s.screenshot());
});
