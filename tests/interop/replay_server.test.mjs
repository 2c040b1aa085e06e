// Server-side replay: `sockscope replay ID --mode server` starts the embedded gateway
// and re-emits a recorded session's server events to Node socket.io-client 4.8
// clients. The session (imported from JSON Lines written here) holds room emits for
// two tenants (`tenant:acme:orders`, `tenant:globex:orders`), one namespace-wide
// emit, one event with two arguments, and client events / lifecycle records that
// must not be replayed. Two clients (acme and globex, HS256 tokens) subscribe to
// "orders" on connect; the replay waits for both (`--wait-clients 2`) plus the
// default 500 ms start delay, so both are in their rooms before the first event.
// Every wait is bounded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";
import { hs256, once, run, sockscopeBin, withTimeout } from "./harness.mjs";

const SECRET = "s";
const MS = 1000; // EventRecord.ts is in microseconds
const T0 = 1_700_000_000_000 * MS;

function record(seq, atMs, direction, event, args, extra = {}) {
  return { seq, ts: T0 + atMs * MS, source: "gateway", direction, namespace: "/", event, args, rooms: [], ...extra };
}

const ACME = { rooms: ["tenant:acme:orders"], tenant: "acme" };
const GLOBEX = { rooms: ["tenant:globex:orders"], tenant: "globex" };
const SOCKET = { socket_id: "a1", tenant: "acme", user: "ann" };

// What production's gateway said, 400 ms apart.
const SOURCE = [
  record(1, 0, "c2s", "connect", [], SOCKET),
  record(2, 10, "c2s", "subscribe", [{ room: "orders" }], SOCKET),
  record(3, 100, "s2c", "order", [{ id: 1, tenant: "acme" }], ACME),
  record(4, 500, "s2c", "order", [{ id: 2, tenant: "globex" }], GLOBEX),
  record(5, 900, "s2c", "announce", [{ text: "maintenance at 5" }]),
  record(6, 1300, "s2c", "order", [{ id: 3, tenant: "acme", items: ["a", "b"] }, { page: 2 }], ACME),
  record(7, 1400, "c2s", "disconnect", ["transport close"], SOCKET),
];

async function setup(records = SOURCE) {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-replay-server-"));
  const db = join(dir, "replay.db");
  const file = join(dir, "production.jsonl");
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const imp = await run(["sessions", "import", file, "--db", db, "--json"]);
  assert.equal(imp.code, 0, imp.stderr);
  return { db, id: JSON.parse(imp.stdout).id };
}

/** Starts `sockscope replay ...`; resolves with its URL once it listens. */
async function startReplay(t, args) {
  const child = spawn(sockscopeBin(), ["replay", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const closed = withTimeout(
    new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr }))),
    "the replay to finish",
    20_000,
  );
  const rl = createInterface({ input: child.stdout });
  const url = await withTimeout(
    new Promise((resolve, reject) => {
      rl.on("line", (line) => {
        const m = /^listening on (https?:\/\/\S+)$/.exec(line);
        if (m) resolve(m[1]);
        else stdout += line + "\n";
      });
      child.on("exit", (code) => reject(new Error(`sockscope replay exited with ${code}: ${stderr}`)));
    }),
    "sockscope replay to listen",
  );
  return { url, closed };
}

/** A client of `tenant` that logs every event with its arrival time and subscribes to "orders". */
async function client(t, url, tenant, user) {
  const c = io(url + "/", {
    auth: { token: hs256(SECRET, { sub: user, tenantId: tenant }) },
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  t.after(() => c.close());
  const got = [];
  c.onAny((event, ...args) => got.push({ event, args, at: performance.now() }));
  await once(c, "connect", `${tenant} to connect`);
  const ack = await withTimeout(c.emitWithAck("subscribe", { room: "orders" }), `${tenant} subscribe ack`);
  assert.deepEqual(ack, { ok: true, room: "orders" });
  return { c, got };
}

const names = (got) => got.map((e) => e.event);
const payloads = (got) => got.map((e) => [e.event, e.args]);

test("server replay: each tenant gets its rooms' events in order with equal payloads, everyone the namespace-wide one, at --speed 2", async (t) => {
  const { db, id } = await setup();
  const replay = await startReplay(t, [String(id), "--mode", "server", "--port", "0", "--jwt-secret", SECRET, "--wait-clients", "2", "--speed", "2", "--db", db]);
  const acme = await client(t, replay.url, "acme", "ann");
  const globex = await client(t, replay.url, "globex", "gus");
  const done = await replay.closed;
  assert.equal(done.code, 0, done.stderr);
  // With a key, the replay's gateway verifies identities and its HTTP API needs the
  // token it generated, which it says once the replay is accepted.
  assert.match(done.stderr, /auth: on, identities come from verified tokens only/);
  assert.match(done.stderr, /http api: needs Authorization: Bearer ssk_[0-9a-f]+ \(generated/);

  assert.deepEqual(payloads(acme.got), [
    ["order", [{ id: 1, tenant: "acme" }]],
    ["announce", [{ text: "maintenance at 5" }]],
    ["order", [{ id: 3, tenant: "acme", items: ["a", "b"] }, { page: 2 }]],
  ]);
  assert.deepEqual(payloads(globex.got), [
    ["order", [{ id: 2, tenant: "globex" }]],
    ["announce", [{ text: "maintenance at 5" }]],
  ]);

  // Recorded 400 ms apart, replayed at twice the speed: ~200 ms apart, in recorded order.
  const arrivals = [acme.got[0].at, globex.got[0].at, acme.got[1].at, acme.got[2].at];
  for (let k = 1; k < arrivals.length; k++) {
    const gap = arrivals[k] - arrivals[k - 1];
    assert.ok(Math.abs(gap - 200) <= 80, `gap ${k}: ${gap.toFixed(1)} ms, expected 200 ± 80`);
  }
  // Namespace-wide copies arrive together.
  assert.ok(Math.abs(globex.got[1].at - acme.got[1].at) <= 50);

  assert.match(done.stdout, new RegExp(`replayed session ${id}: 4 of 4 events sent, 5 deliveries; schedule: mean error [\\d.]+ ms, max [\\d.]+ ms`));
  assert.match(done.stderr, /waiting for 2 client\(s\)/);
  assert.match(done.stderr, /replaying 4 events/);
});

test("server replay --rewrite acme=>globex: acme's stream goes to the globex client, payloads rewritten", async (t) => {
  const { db, id } = await setup();
  const replay = await startReplay(t, [String(id), "--mode", "server", "--port", "0", "--jwt-secret", SECRET, "--wait-clients", "2", "--as-fast-as-possible", "--rewrite", "acme=>globex", "--json", "--db", db]);
  const acme = await client(t, replay.url, "acme", "ann");
  const globex = await client(t, replay.url, "globex", "gus");
  const done = await replay.closed;
  assert.equal(done.code, 0, done.stderr);

  assert.deepEqual(payloads(globex.got), [
    ["order", [{ id: 1, tenant: "globex" }]],
    ["order", [{ id: 2, tenant: "globex" }]],
    ["announce", [{ text: "maintenance at 5" }]],
    ["order", [{ id: 3, tenant: "globex", items: ["a", "b"] }, { page: 2 }]],
  ]);
  assert.deepEqual(names(acme.got), ["announce"]);

  const status = JSON.parse(done.stdout.trim());
  assert.equal(status.phase, "finished");
  assert.equal(status.session, id);
  assert.deepEqual([status.sent, status.total, status.index, status.delivered], [4, 4, 4, 5]);
  assert.equal(status.schedule.sends, 4);
});

test("server replay: --only/--skip choose the events; a namespace the gateway does not serve is refused", async (t) => {
  const { db, id } = await setup();
  const replay = await startReplay(t, [String(id), "--mode", "server", "--port", "0", "--jwt-secret", SECRET, "--as-fast-as-possible", "--only", "order", "--skip", "announce", "--db", db]);
  const acme = await client(t, replay.url, "acme", "ann");
  const done = await replay.closed;
  assert.equal(done.code, 0, done.stderr);
  assert.deepEqual(names(acme.got), ["order", "order"]);
  assert.match(done.stdout, /3 of 3 events sent, 2 deliveries/);

  const other = await setup(SOURCE.map((r) => ({ ...r, namespace: "/dashboard" })));
  const refused = await run(["replay", String(other.id), "--mode", "server", "--port", "0", "--db", other.db]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /namespace "\/dashboard", which the gateway does not serve \(serving: \/\); add it with --namespace/);
  assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
});

test("server replay: bad input and no clients are a non-zero exit with a one-line reason", async (t) => {
  const { db, id } = await setup();
  const cases = [
    [["replay", "9999", "--mode", "server", "--port", "0", "--db", db], /no session 9999/],
    [["replay", String(id), "--mode", "server", "--target", "http://127.0.0.1:1", "--db", db], /--target cannot be used with --mode server/],
    [["replay", String(id), "--mode", "server", "--port", "0", "--rewrite", "no-arrow", "--db", db], /bad rewrite rule "no-arrow"/],
    [["replay", String(id), "--mode", "server", "--port", "0", "--only", "nothing-like-this", "--db", db], /no server-to-client events to replay/],
    [["replay", String(id), "--port", "0", "--target", "http://127.0.0.1:1", "--db", db], /--port only applies with --mode server/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.notEqual(r.code, 0, `${args.join(" ")} exited 0`);
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line for ${args.join(" ")}: ${r.stderr}`);
  }
  // Nobody connects: the wait gives up, the reason is the last line.
  const lonely = await run(["replay", String(id), "--mode", "server", "--port", "0", "--wait-timeout", "300ms", "--db", db]);
  assert.notEqual(lonely.code, 0);
  assert.match(lonely.stderr.trim().split("\n").at(-1), /only 0 of 1 clients connected within 300 ms/);
});
