// The embedded gateway as a cluster: three `sockscope serve --redis` nodes on one real
// redis-server (started here on a free port with its own data dir, see redis.mjs),
// Node socket.io-client 4.8 clients spread over them. Checks cross-node room delivery
// with tenant isolation (negative and positive control), inspection of every node from
// any node, notify-users across nodes, server-side replay from one node to clients of
// all, a simulation spread over three nodes, a node leaving, and Redis dying under
// the nodes. Every wait is bounded.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { io } from "socket.io-client";
import { apiPost, eventually, hs256, once, run, serve, sockscopeBin, withTimeout } from "./harness.mjs";
import { freePort, startRedis } from "./redis.mjs";

const SECRET = "cluster-secret";
const QUIET_MS = 400;

const clients = [];
function connect(node, ns, claims) {
  const c = io(node.url + ns, { auth: { token: hs256(SECRET, claims) }, transports: ["websocket"], reconnection: false, forceNew: true });
  clients.push(c);
  return c;
}

async function startNode(redis, extra = []) {
  const srv = await serve(["--port", "0", "--jwt-secret", SECRET, "--namespace", "/dashboard", "--redis", redis.url, ...extra]);
  const m = /^cluster: node (\S+), connected to (\S+)$/m.exec(srv.stderr());
  assert.ok(m, `serve --redis names its node: ${srv.stderr()}`);
  assert.equal(m[2], redis.url);
  return { ...srv, node: m[1] };
}

async function inspect(node) {
  const res = await fetch(`${node.url}/inspect`, { headers: { authorization: `Bearer ${node.apiToken}` } });
  assert.equal(res.status, 200);
  return res.json();
}

const socketsOf = (snap, ns = "/dashboard") => snap.namespaces.find((n) => n.name === ns)?.sockets ?? [];

/** Collects `event` on client `c`. */
function collect(c, event) {
  const got = [];
  c.on(event, (...args) => got.push(args));
  return got;
}

const quiet = () => new Promise((r) => setTimeout(r, QUIET_MS));

let redis;
let A;
let B;
let C;
const nodes = [];

before(async () => {
  redis = await startRedis();
  A = await startNode(redis);
  B = await startNode(redis);
  C = await startNode(redis);
  nodes.push(A, B, C);
});

after(async () => {
  for (const c of clients) c.close();
  for (const n of nodes) n.child.kill("SIGKILL");
  await redis?.stop();
});

test("an unreachable Redis at start: one line naming the URL, exit 2", async () => {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const { code, stdout, stderr } = await run(["serve", "--port", "0", "--redis", url]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], new RegExp(`cannot join the cluster through Redis at ${url}`));
});

test("an emit posted to node C reaches a tenant room on nodes A and B, never another tenant's", async () => {
  const ann = connect(A, "/dashboard", { sub: "ann", tenantId: "acme" });
  const carol = connect(B, "/dashboard", { sub: "carol", tenantId: "acme" });
  const bob = connect(B, "/dashboard", { sub: "bob", tenantId: "globex" });
  await Promise.all([ann, carol, bob].map((c) => once(c, "connect", "a client to connect")));
  for (const c of [ann, carol, bob]) {
    assert.deepEqual(await withTimeout(c.emitWithAck("subscribe", { room: "orders" }), "subscribe ack"), { ok: true, room: "orders" });
  }
  const bobGot = collect(bob, "order");
  const annGets = once(ann, "order", "ann (node A) to get acme's order");
  const carolGets = once(carol, "order", "carol (node B, positive control) to get acme's order");
  const res = await apiPost(C, "/emit", { namespace: "/dashboard", event: "order", data: { id: 7 }, room: "orders", tenant: "acme" });
  assert.equal(res.status, 200);
  // Counted over the cluster: C itself has no socket in the room.
  assert.deepEqual(await res.json(), { delivered: 2 });
  assert.deepEqual(await annGets, [{ id: 7 }]);
  assert.deepEqual(await carolGets, [{ id: 7 }]);
  await quiet();
  assert.deepEqual(bobGot, [], "globex's socket on node B got acme's order");

  // And the other way: globex's order reaches bob only.
  const annGot = collect(ann, "order");
  const bobGets = once(bob, "order", "bob to get globex's order");
  const res2 = await apiPost(A, "/emit", { namespace: "/dashboard", event: "order", data: { id: 8 }, room: "orders", tenant: "globex" });
  assert.deepEqual(await res2.json(), { delivered: 1 });
  assert.deepEqual(await bobGets, [{ id: 8 }]);
  await quiet();
  assert.deepEqual(annGot, []);
});

test("inspect on node B lists every node's sockets with their node, user and tenant", async () => {
  const snap = await eventually(async () => {
    const s = await inspect(B);
    return socketsOf(s).length >= 3 ? s : null;
  }, "three sockets in B's inspect");
  assert.equal(snap.node, B.node);
  assert.deepEqual([...snap.nodes].sort(), [A.node, B.node].sort(), "nodes with sockets");
  const byUser = Object.fromEntries(socketsOf(snap).map((s) => [s.user, s]));
  assert.equal(byUser.ann.node, A.node);
  assert.equal(byUser.ann.tenant, "acme");
  assert.ok(byUser.ann.rooms.includes("tenant:acme:room:orders"), JSON.stringify(byUser.ann));
  assert.equal(byUser.carol.node, B.node);
  assert.equal(byUser.bob.node, B.node);
  assert.equal(byUser.bob.tenant, "globex");
  // B's own sockets carry what only the node that holds them knows.
  assert.equal(byUser.carol.transport, "websocket");
  // A room lists members of every node.
  const orders = snap.namespaces.find((n) => n.name === "/dashboard").rooms.find((r) => r.name === "tenant:acme:room:orders");
  assert.deepEqual([...orders.sockets].sort(), [byUser.ann.id, byUser.carol.id].sort());

  // The CLI shows the same, node by node.
  const { code, stdout, stderr } = await run(["inspect", "--url", B.url]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, new RegExp(`cluster of 2 nodes \\(answered by ${B.node}\\)`));
  assert.match(stdout, new RegExp(`socket ${byUser.ann.id} user=ann .*node=${A.node}`));
});

test("notify-users on node A reaches the user's sockets on A and C, within the tenant", async () => {
  const onA = connect(A, "/", { sub: "dave", tenantId: "acme" });
  const onC = connect(C, "/", { sub: "dave", tenantId: "acme" });
  const otherTenant = connect(B, "/", { sub: "dave", tenantId: "globex" });
  const otherUser = connect(C, "/", { sub: "erin", tenantId: "acme" });
  await Promise.all([onA, onC, otherTenant, otherUser].map((c) => once(c, "connect", "a client to connect")));
  const stray = [...collect(otherTenant, "notification"), ...collect(otherUser, "notification")];
  const gotA = once(onA, "notification", "dave on A");
  const gotC = once(onC, "notification", "dave on C");
  const res = await apiPost(A, "/notify-users", { tenantId: "acme", users: ["dave"], data: { text: "hi" } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { delivered: 2 });
  assert.deepEqual(await gotA, [{ text: "hi" }]);
  assert.deepEqual(await gotC, [{ text: "hi" }]);
  await quiet();
  assert.deepEqual(stray, []);
});

test("server-side replay on one node reaches clients on every node", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-cluster-replay-"));
  const db = join(dir, "replay.db");
  const file = join(dir, "prod.jsonl");
  const T0 = 1_700_000_000_000_000;
  const rec = (seq, ms, tenant, id) => ({
    seq, ts: T0 + ms * 1000, source: "gateway", direction: "s2c", namespace: "/dashboard", event: "shipment",
    args: [{ id }], rooms: [`tenant:${tenant}:room:shipments`], tenant,
  });
  writeFileSync(file, [rec(1, 0, "acme", 1), rec(2, 100, "globex", 2), rec(3, 200, "acme", 3)].map((r) => JSON.stringify(r)).join("\n") + "\n");
  const imp = await run(["sessions", "import", file, "--db", db, "--json"]);
  assert.equal(imp.code, 0, imp.stderr);
  const id = String(JSON.parse(imp.stdout).id);

  const child = spawn(sockscopeBin(), [
    "replay", id, "--mode", "server", "--db", db, "--port", "0", "--jwt-secret", SECRET, "--namespace", "/dashboard",
    "--redis", redis.url, "--wait-clients", "2", "--wait-timeout", "15s",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const closed = withTimeout(new Promise((resolve) => child.on("close", (code) => resolve(code))), "the replay to finish", 30_000);
  const rl = createInterface({ input: child.stdout });
  await withTimeout(new Promise((resolve, reject) => {
    rl.on("line", (l) => /^listening on /.test(l) && resolve());
    child.on("exit", (code) => reject(new Error(`replay exited with ${code}: ${stderr}`)));
  }), "the replaying node to listen");
  try {
    // Its clients live on nodes A and C; the replaying node has none of its own.
    const acme = connect(A, "/dashboard", { sub: "fay", tenantId: "acme" });
    const globex = connect(C, "/dashboard", { sub: "gus", tenantId: "globex" });
    await Promise.all([acme, globex].map((c) => once(c, "connect", "a replay client to connect")));
    for (const c of [acme, globex]) await withTimeout(c.emitWithAck("subscribe", { room: "shipments" }), "subscribe ack");
    const acmeGot = collect(acme, "shipment");
    const globexGot = collect(globex, "shipment");
    assert.equal(await closed, 0, stderr);
    await eventually(() => acmeGot.length === 2 && globexGot.length === 1, "the replayed shipments on nodes A and C");
    assert.deepEqual(acmeGot, [[{ id: 1 }], [{ id: 3 }]]);
    assert.deepEqual(globexGot, [[{ id: 2 }]]);
    assert.match(stderr, /^cluster: node \S+, connected to /m);
  } finally {
    child.kill("SIGKILL");
  }
});

test("a simulation spread over three nodes connects every client", async () => {
  // A cluster of its own (its own Redis: Redis pub/sub is shared by every
  // database of a server), with the scenario's profile.
  const simRedis = await startRedis();
  const sim = [];
  try {
    for (let i = 0; i < 3; i++) sim.push(await startNode(simRedis, ["--profile", "analytics", "--tick-ms", "100"]));
    // An entity belongs to the first tenant that subscribes, on every node: another
    // tenant is refused on another node, the owner (positive control) is accepted there.
    const owner = connect(sim[0], "/dashboard", { sub: "o", tenantId: "t-own" });
    const thief = connect(sim[1], "/dashboard", { sub: "x", tenantId: "t-other" });
    const again = connect(sim[2], "/dashboard", { sub: "o2", tenantId: "t-own" });
    await Promise.all([owner, thief, again].map((c) => once(c, "connect", "an analytics client to connect")));
    const sub = (c) => withTimeout(c.emitWithAck("subscribe", { entityId: "cluster-e1", entityType: "event" }), "subscribe ack");
    assert.equal((await sub(owner)).ok, true);
    const refused = await sub(thief);
    assert.equal(refused.ok, false);
    assert.match(refused.error.message, /not found for this tenant/);
    assert.equal((await sub(again)).ok, true);
    for (const c of [owner, thief, again]) c.close();
    const { code, stdout, stderr } = await run([
      "simulate", "analytics-dashboard", "--target", sim.map((n) => n.url).join(","), "--jwt-secret", SECRET,
      "--clients", "12", "--ramp", "300ms", "--duration", "1500ms", "--json",
    ]);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert.equal(report.connected, 12, JSON.stringify(report.errors_by_kind));
    assert.equal(report.failed, 0);
    // Round-robin: four clients connected to each node.
    for (const n of sim) {
      const connects = n.lines.map((l) => JSON.parse(l)).filter((r) => r.event === "connect" && r.direction === "c2s");
      // Four simulated clients each, plus the ownership check's one.
      assert.equal(connects.length, 5, `connects on ${n.url}`);
    }
  } finally {
    for (const n of sim) n.child.kill("SIGKILL");
    await simRedis.stop();
  }
});

test("a node that stops leaves the others' inspect within a bounded time", async () => {
  const before = socketsOf(await inspect(A));
  assert.ok(before.some((s) => s.node === B.node), "B's sockets are listed before it stops");
  B.child.kill("SIGTERM");
  const { code } = await withTimeout(B.exited, "node B to exit");
  assert.equal(code, 0);
  const started = Date.now();
  await eventually(async () => {
    const snap = await inspect(A);
    return socketsOf(snap).every((s) => s.node !== B.node) && socketsOf(snap, "/").every((s) => s.node !== B.node);
  }, "B's sockets to leave A's inspect");
  assert.ok(Date.now() - started < 10_000);
  // A's and C's sockets are still there.
  const after = socketsOf(await inspect(C));
  assert.ok(after.some((s) => s.node === A.node) && after.every((s) => s.node !== B.node));
});

test("Redis dies: the nodes say so and keep serving their own sockets", async () => {
  const hal = connect(A, "/dashboard", { sub: "hal", tenantId: "acme" });
  const ivy = connect(C, "/dashboard", { sub: "ivy", tenantId: "acme" });
  await Promise.all([hal, ivy].map((c) => once(c, "connect", "a client to connect")));
  for (const c of [hal, ivy]) await withTimeout(c.emitWithAck("subscribe", { room: "alerts" }), "subscribe ack");

  await redis.kill();
  for (const n of [A, C]) {
    await eventually(() => /cluster: redis lost/.test(n.stderr()), `node ${n.node} to say Redis is gone`);
    const lost = await eventually(
      () => n.lines.map((l) => JSON.parse(l)).find((r) => r.event === "cluster:redis-lost"),
      "the cluster:redis-lost event on the bus",
    );
    assert.equal(lost.args[0].node, n.node);
  }
  // Each node still delivers to its own sockets (and only those now).
  const ivyGot = collect(ivy, "alert");
  const halGets = once(hal, "alert", "hal on A after Redis died");
  const res = await apiPost(A, "/emit", { namespace: "/dashboard", event: "alert", data: { n: 1 }, room: "alerts", tenant: "acme" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { delivered: 1 });
  assert.deepEqual(await halGets, [{ n: 1 }]);
  await quiet();
  assert.deepEqual(ivyGot, []);
  // New sockets connect, and inspect answers with this node's sockets.
  const jay = connect(C, "/dashboard", { sub: "jay", tenantId: "acme" });
  await once(jay, "connect", "a new client on C after Redis died");
  const snap = await inspect(C);
  assert.ok(socketsOf(snap).some((s) => s.user === "jay" && s.node === C.node));
  assert.ok(socketsOf(snap).every((s) => s.node === C.node));
});
