// Contracts from recordings (issue 16): `contract infer` on a session recorded
// against `serve --profile analytics` gives an AsyncAPI 3.0 document the official
// @asyncapi/parser accepts; `contract check` and `contract diff` catch a staging
// gateway that renames a field (exit 1, the field named) and pass the unchanged one
// (exit 0: the positive control), from a recording and live on a connection; the
// JUnit report parses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "socket.io";
import { io } from "socket.io-client";
import { Parser } from "@asyncapi/parser";
import { hs256, lastSessionId, once, run, serve, withTimeout } from "./harness.mjs";

const SECRET = "contract-secret";
const dir = mkdtempSync(join(tmpdir(), "sockscope-contract-"));
const db = join(dir, "contracts.db");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const sessionId = (name) => lastSessionId(db, name);

/** Records a socket.io-client session against the embedded analytics profile. */
async function recordAnalytics(name) {
  const srv = await serve(["--port", "0", "--profile", "analytics", "--jwt-secret", SECRET, "--tick-ms", "30", "--record", name, "--db", db]);
  const socket = io(`${srv.url}/dashboard`, { auth: { token: hs256(SECRET, { sub: "ann", tenantId: "acme" }) }, transports: ["websocket"], reconnection: false });
  try {
    await once(socket, "connect");
    const initial = once(socket, "dashboard:initial");
    let ticks = 0;
    const sixTicks = withTimeout(new Promise((resolve) => socket.on("metric:update", () => ++ticks === 6 && resolve())), "six metric:update ticks");
    socket.emit("subscribe", { entityId: "event-uuid-123", entityType: "event" });
    await initial;
    await sixTicks;
    socket.emit("unsubscribe", { entityId: "event-uuid-123" });
    await sleep(150);
  } finally {
    socket.close();
    srv.child.kill("SIGINT");
    await withTimeout(srv.exited, "serve to stop");
  }
  return sessionId(name);
}

/** A staging gateway on Node socket.io: `subscribe` answers with `count`
 * metric:update events; `renamed` sends `entity_id` where the contract has
 * `entityId`, `fewer` sends one event less. */
async function startStaging(renamed, fewer = false) {
  const http = createServer();
  const server = new Server(http);
  server.of("/dashboard").on("connection", (socket) => {
    socket.on("subscribe", ({ entityId, count = 4 } = {}) => {
      for (let i = 1; i <= count - (fewer ? 1 : 0); i++) {
        const id = renamed ? { entity_id: entityId } : { entityId };
        socket.emit("metric:update", { ...id, metricName: i % 2 ? "attendees" : "revenue", value: i * 1.5, at: new Date(1700000000000 + i).toISOString() });
      }
    });
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${http.address().port}`, close: () => new Promise((r) => { server.close(); r(); }) };
}

let stagingSession;
async function recordStaging(renamed, name) {
  const staging = await startStaging(renamed);
  try {
    const rec = await run(["record", staging.url, "--namespace", "/dashboard", "--emit", `subscribe=${JSON.stringify({ entityId: "e1", count: 4 })}`, "--count", "6", "--duration", "20s", "--no-reconnect", "--db", db, "--name", name]);
    assert.equal(rec.code, 0, rec.stderr);
  } finally {
    await staging.close();
  }
  return sessionId(name);
}

/** JUnit files must parse: one root, every tag closed in order, attributes quoted,
 * no raw `<` or `&` in text. Returns the element names in document order. */
function parseXml(xml) {
  const body = xml.replace(/^<\?xml [^>]*\?>\n/, "");
  const stack = [];
  const names = [];
  const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>|([^<]+)/g;
  let m;
  let at = 0;
  while ((m = tag.exec(body))) {
    assert.equal(m.index, at, `unparseable XML at ${at}: ${body.slice(at, at + 40)}`);
    at = tag.lastIndex;
    if (m[5] !== undefined) {
      assert.doesNotMatch(m[5], /&(?!(amp|lt|gt|quot|apos);)/, "raw & in text");
      continue;
    }
    if (m[1]) assert.equal(stack.pop(), m[2], `</${m[2]}> closes the open element`);
    else {
      names.push(m[2]);
      if (!m[4]) stack.push(m[2]);
    }
  }
  assert.equal(at, body.length, "the whole file parsed");
  assert.deepEqual(stack, [], "every element closed");
  assert.equal(names[0], "testsuites");
  return names;
}

const contract = (...args) => run(["contract", ...args, ...(args[0] === "diff" ? [] : ["--db", db])]);

test("infer: the analytics recording gives an AsyncAPI 3.0 document @asyncapi/parser accepts, and the session honours it", async () => {
  const id = await recordAnalytics("analytics");
  const yamlPath = join(dir, "analytics.yaml");
  const out = await contract("infer", String(id), "-o", yamlPath);
  assert.equal(out.code, 0, out.stderr);
  const text = readFileSync(yamlPath, "utf8");

  const { document, diagnostics } = await new Parser().parse(text);
  const errors = diagnostics.filter((d) => d.severity === 0);
  assert.deepEqual(errors.map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`), []);
  assert.ok(document, "the parser built a document");
  assert.equal(document.version(), "3.0.0");
  const ops = Object.fromEntries(document.operations().all().map((o) => [o.id(), o.action()]));
  assert.equal(ops.receive_subscribe, "receive", JSON.stringify(ops));
  assert.equal(ops.send_dashboard_initial, "send", JSON.stringify(ops));
  assert.equal(ops.send_metric_update, "send", JSON.stringify(ops));
  assert.equal(ops.receive_connect, undefined, "lifecycle events are not in the contract");
  const tick = document.channels().get("dashboard").messages().get("send_metric_update");
  assert.equal(tick.name(), "metric:update");
  assert.ok(tick.payload().required().includes("entityId"), JSON.stringify(tick.payload().json()));
  assert.equal(tick.payload().properties().timestamp.format(), "date-time");
  assert.deepEqual(tick.json()["x-sockscope-tenants"], ["acme"]);

  // JSON by extension, the same document; and deterministic: inferring again gives the same bytes.
  const jsonPath = join(dir, "analytics.json");
  assert.equal((await contract("infer", String(id), "-o", jsonPath)).code, 0);
  const fromJson = await new Parser().parse(readFileSync(jsonPath, "utf8"));
  assert.deepEqual(fromJson.diagnostics.filter((d) => d.severity === 0), []);
  const again = await contract("infer", String(id));
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, text);

  // The recording honours its own contract (exit 0), and a JUnit report is written.
  const junit = join(dir, "analytics-check.xml");
  const check = await contract("check", String(id), "--against", yamlPath, "--junit", junit);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const xml = readFileSync(junit, "utf8");
  assert.ok(parseXml(xml).includes("testcase"));
  assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites [^>]*failures="0"/);
  assert.match(xml, /<testcase name="s2c metric:update \(\/dashboard\): \d+ events" classname="contract"\/>/);
});

/** AsyncAPI parser errors (severity 0) of a document text, as readable lines. */
async function parserErrors(text) {
  const { document, diagnostics } = await new Parser().parse(text);
  return { document, errors: diagnostics.filter((d) => d.severity === 0).map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`) };
}

test("infer: a jet-admin recording (optional fields, a closed status set) and the HAR fixture (ack replies) give valid documents their sessions honour", async () => {
  const srv = await serve(["--port", "0", "--profile", "jet-admin", "--tick-ms", "20", "--record", "jet", "--db", db]);
  const token = hs256("firebase-project-key", { sub: "firebase-user", tenantId: "tenant-uuid" });
  const socket = io(srv.url, { auth: { token, firebase_id: "user-firebase-uid" }, transports: ["websocket"], reconnection: false });
  try {
    await once(socket, "connect");
    // Two completed and two failed runs: each status seen twice, so a closed set.
    for (const runId of ["run-uuid-123", "run-fail-7", "run-uuid-124", "run-fail-8"]) {
      const done = once(socket, "workflow_status_update", `the status of ${runId}`);
      socket.emit("workflow_run_join", { runId });
      await done;
    }
  } finally {
    socket.close();
    srv.child.kill("SIGINT");
    await withTimeout(srv.exited, "serve to stop");
  }
  const jet = await sessionId("jet");
  const path = join(dir, "jet.yaml");
  const out = await contract("infer", String(jet), "-o", path);
  assert.equal(out.code, 0, out.stderr);
  const { document, errors } = await parserErrors(readFileSync(path, "utf8"));
  assert.deepEqual(errors, []);
  const status = document.channels().get("root").messages().get("send_workflow_status_update").payload();
  assert.deepEqual(status.properties().status.enum(), ["completed", "failed"]);
  assert.ok(status.required().includes("runId") && !status.required().includes("error"), JSON.stringify(status.json()));
  assert.equal(status.properties().error.type(), "string");
  assert.equal((await contract("check", String(jet), "--against", path)).code, 0);

  // The Chrome DevTools HAR fixture, imported.
  const imported = await run(["sessions", "import", new URL("./fixtures/dashboard.har", import.meta.url).pathname, "--db", db]);
  assert.equal(imported.code, 0, imported.stderr);
  const har = Number(/as session (\d+)/.exec(imported.stdout + imported.stderr)?.[1]);
  assert.ok(har > 0, imported.stdout + imported.stderr);
  const harPath = join(dir, "har.json");
  assert.equal((await contract("infer", String(har), "-o", harPath)).code, 0);
  const fromHar = await parserErrors(readFileSync(harPath, "utf8"));
  assert.deepEqual(fromHar.errors, []);
  const withReply = fromHar.document.operations().all().filter((o) => o.reply());
  assert.ok(withReply.length > 0, "ack payloads become replies");
  assert.ok(withReply[0].reply().messages().all()[0].payload(), "the reply message has a payload schema");
  const harCheck = await contract("check", String(har), "--against", harPath);
  assert.equal(harCheck.code, 0, harCheck.stdout + harCheck.stderr);
});

test("check and diff: a staging server that renames a field is caught (exit 1, the field named); the unchanged one passes", async () => {
  const good = await recordStaging(false, "staging-good");
  stagingSession = good;
  const goodAgain = await recordStaging(false, "staging-good-2");
  const renamed = await recordStaging(true, "staging-renamed");
  const api = join(dir, "staging.yaml");
  const inferred = await contract("infer", String(good), "-o", api);
  assert.equal(inferred.code, 0, inferred.stderr);

  // Positive control: another recording of the unchanged gateway passes.
  const ok = await contract("check", String(goodAgain), "--against", api);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stderr, /0 violation\(s\)/);

  const junit = join(dir, "renamed-check.xml");
  const bad = await contract("check", String(renamed), "--against", api, "--junit", junit);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  const lines = bad.stdout.trim().split("\n");
  assert.equal(lines.length, 4, bad.stdout);
  for (const l of lines) assert.match(l, /^seq \d+ s2c \/dashboard metric:update missing_field \/entityId: required field "entityId" is missing$/);
  assert.match(bad.stderr, /4 violation\(s\)/);
  const xml = readFileSync(junit, "utf8");
  assert.ok(parseXml(xml).includes("failure"));
  assert.match(xml, /failures="1"/);
  assert.match(xml, /<failure message="seq \d+ missing_field \/entityId: required field &quot;entityId&quot; is missing">/);

  // The same as JSON, for scripts.
  const asJson = await contract("check", String(renamed), "--against", api, "--json");
  assert.equal(asJson.code, 1);
  const report = JSON.parse(asJson.stdout);
  assert.equal(report.violations.length, 4);
  assert.equal(report.violations[0].pointer, "/entityId");
  assert.equal(typeof report.violations[0].seq, "number");

  // diff: the renamed gateway's contract breaks the old one; the unchanged one does not.
  const renamedApi = join(dir, "renamed.yaml");
  assert.equal((await contract("infer", String(renamed), "-o", renamedApi)).code, 0);
  const sameApi = join(dir, "same.yaml");
  assert.equal((await contract("infer", String(goodAgain), "-o", sameApi)).code, 0);
  const broken = await contract("diff", api, renamedApi);
  assert.equal(broken.code, 1, broken.stdout + broken.stderr);
  assert.match(broken.stdout, /^BREAKING send metric:update \(\/dashboard\) \/entityId: field removed$/m);
  assert.match(broken.stdout, /^BREAKING send metric:update \(\/dashboard\) \/entity_id: new required field$/m);
  const same = await contract("diff", api, sameApi);
  assert.equal(same.code, 0, same.stdout + same.stderr);
  assert.match(same.stderr, /0 breaking/);

  // Live, on a connection: the unchanged gateway passes, the renamed one is caught as it happens.
  const live = async (renamedGateway) => {
    const staging = await startStaging(renamedGateway);
    try {
      return await run(["contract", "live", staging.url, "--namespace", "/dashboard", "--emit", `subscribe=${JSON.stringify({ entityId: "e1", count: 4 })}`, "--count", "6", "--duration", "20s", "--no-reconnect", "--against", api]);
    } finally {
      await staging.close();
    }
  };
  const liveOk = await live(false);
  assert.equal(liveOk.code, 0, liveOk.stdout + liveOk.stderr);
  assert.match(liveOk.stderr, /6 live events checked against .*, 0 violation\(s\)/);
  const liveBad = await live(true);
  assert.equal(liveBad.code, 1, liveBad.stdout + liveBad.stderr);
  assert.match(liveBad.stdout, /^seq \d+ s2c \/dashboard metric:update missing_field \/entityId: required field "entityId" is missing$/m);
  assert.match(liveBad.stderr, /4 violation\(s\)/);
});

test("contract commands refuse bad input with one line and exit 2", async () => {
  const missing = await contract("check", "1", "--against", join(dir, "nope.yaml"));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^sockscope: error: cannot read .*nope\.yaml/);
  const notApi = join(dir, "not-asyncapi.json");
  (await import("node:fs")).writeFileSync(notApi, JSON.stringify({ openapi: "3.1.0" }));
  const wrong = await contract("diff", notApi, notApi);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /not an AsyncAPI 3 contract/);
});

test("gates: replay --fail-on-drift and simulate --ensure exit 1 when their condition fails, 0 when it holds; the JUnit files parse", async () => {
  const session = stagingSession ?? (await recordStaging(false, "staging-for-replay"));
  const replay = async (fewer, junit) => {
    const staging = await startStaging(false, fewer);
    try {
      return await run(["replay", String(session), "--target", staging.url, "--namespace", "/dashboard", "--as-fast-as-possible", "--settle", "300ms", "--fail-on-drift", "--junit", junit, "--db", db]);
    } finally {
      await staging.close();
    }
  };
  const cleanXml = join(dir, "replay-clean.xml");
  const clean = await replay(false, cleanXml);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stderr, /no drift/);
  assert.match(readFileSync(cleanXml, "utf8"), /<testsuite name="replay of session \d+" tests="\d+" failures="0"/);
  const driftXml = join(dir, "replay-drift.xml");
  const drift = await replay(true, driftXml);
  assert.equal(drift.code, 1, drift.stdout + drift.stderr);
  assert.match(drift.stderr, /drift found replaying session \d+ .*\(--fail-on-drift\)/);
  parseXml(readFileSync(cleanXml, "utf8"));
  assert.ok(parseXml(readFileSync(driftXml, "utf8")).includes("failure"));
  assert.match(readFileSync(driftXml, "utf8"), /<testcase name="count metric:update" classname="replay">\n\s*<failure message="expected 4 received 3">/);

  // simulate --ensure against the embedded analytics profile: holds -> 0, fails -> 1 naming it.
  const sim = (...ensure) => {
    const junit = join(dir, `sim-${ensure.length}-${Date.now()}.xml`);
    return run(["simulate", "analytics-dashboard", "--embedded", "--clients", "4", "--ramp", "200ms", "--duration", "2s", ...ensure.flatMap((e) => ["--ensure", e]), "--junit", junit]).then((r) => ({ ...r, xml: readFileSync(junit, "utf8") }));
  };
  const holds = await sim("p99(delivery)<5s", "errors==0", "connected>=0.99");
  assert.equal(holds.code, 0, holds.stderr);
  assert.match(holds.stderr, /ensure connected>=0.99: holds \(was 1\.0000 \(4 of 4\)\)/);
  assert.match(holds.xml, /tests="4" failures="0"/);
  parseXml(holds.xml);
  const slow = await sim("errors==0", "p99(delivery)<0.001ms");
  assert.equal(slow.code, 1, slow.stderr);
  assert.match(slow.stderr, /^sockscope: ensure failed: p99\(delivery\)<0\.001ms \(was [\d.]+ms\)$/m);
  assert.doesNotMatch(slow.stderr, /ensure failed: errors==0/);
  assert.ok(parseXml(slow.xml).includes("failure"));
  assert.match(slow.xml, /<testcase name="p99\(delivery\)&lt;0\.001ms" classname="simulate.ensure">\n\s*<failure /);

  // errors / connected fail for real: clients whose tokens the gateway refuses.
  const srv = await serve(["--port", "0", "--profile", "analytics", "--jwt-secret", SECRET]);
  try {
    const refused = await run(["simulate", "analytics-dashboard", "--target", srv.url, "--jwt-secret", "not-the-secret", "--clients", "2", "--ramp", "100ms", "--duration", "2s", "--connect-timeout", "1s", "--ensure", "errors==0", "--ensure", "connected>=0.99"]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /ensure failed: errors==0 \(was [1-9]\d*\); connected>=0.99 \(was 0\.0000 \(0 of 2\)\)/);
  } finally {
    srv.child.kill("SIGKILL");
  }
});

test("serve --contract: the embedded gateway checks every client's events as they happen (exit 1 on a violation, 0 without)", async () => {
  const id = await recordAnalytics("analytics-for-serve");
  const api = join(dir, "serve-contract.yaml");
  assert.equal((await contract("infer", String(id), "-o", api)).code, 0);
  const gateway = async (subscribe) => {
    const srv = await serve(["--port", "0", "--profile", "analytics", "--jwt-secret", SECRET, "--tick-ms", "30", "--contract", api]);
    const socket = io(`${srv.url}/dashboard`, { auth: { token: hs256(SECRET, { sub: "bob", tenantId: "acme" }) }, transports: ["websocket"], reconnection: false });
    try {
      await once(socket, "connect");
      socket.emit("subscribe", subscribe);
      await sleep(400);
    } finally {
      socket.close();
      await sleep(100);
      srv.child.kill("SIGINT");
    }
    const { code } = await withTimeout(srv.exited, "serve to stop");
    return { code, stderr: srv.stderr() };
  };
  // Positive control: the gateway's own traffic, shaped as recorded, passes.
  const ok = await gateway({ entityId: "event-uuid-9", entityType: "event" });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /\d+ gateway events checked against .*, 0 violation\(s\)/);
  // A client that renames the field is caught on the gateway, as it happens.
  const bad = await gateway({ entity_id: "event-uuid-9", entityType: "event" });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /^seq \d+ c2s \/dashboard subscribe missing_field \/entityId: required field "entityId" is missing$/m);
  assert.match(bad.stderr, /gateway events checked against .*, [1-9]\d* violation\(s\)/);
});
