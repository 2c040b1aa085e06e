// The Redis password in `serve --redis redis://:PASSWORD@host` never reaches a log
// line or an event, even at RUST_LOG=debug (every crate's debug output, the redis
// client's included): through start, cross-node traffic, a wrong password, and Redis
// dying under the node. Positive controls: the password is really in use (the Redis
// server refuses clients without it, and a node given it joins the cluster and
// delivers across nodes), and the debug output is really there (so an empty log cannot
// pass). Every wait is bounded.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { io } from "socket.io-client";
import { apiPost, eventually, hs256, once, run, serve, withTimeout } from "./harness.mjs";
import { redisCommand, startRedis } from "./redis.mjs";

const SECRET = "redis-secret-test-jwt";
const PASSWORD = `rp${randomBytes(12).toString("hex")}`;
const DEBUG = { RUST_LOG: "debug" };
let redis;
const nodes = [];
const clients = [];

before(async () => {
  redis = await startRedis(["--requirepass", PASSWORD]);
});

after(async () => {
  for (const c of clients) c.close();
  for (const n of nodes) n.child.kill("SIGKILL");
  await redis?.stop();
});

const withPassword = (pw) => `redis://:${pw}@127.0.0.1:${redis.port}`;

/** Everything a node wrote: stdout (events) and stderr (logs). */
const everything = (n) => `${n.lines.join("\n")}\n${n.stderr()}`;

function assertNoPassword(text, where) {
  assert.ok(!text.includes(PASSWORD), `the Redis password is in ${where}:\n${text.split("\n").filter((l) => l.includes(PASSWORD)).slice(0, 5).join("\n")}`);
}

test("the Redis password is in no log line at RUST_LOG=debug, through start, traffic and Redis dying", async () => {
  // The password is needed: Redis refuses a client without it.
  assert.match(await redisCommand(redis.port, "SET k v"), /^-NOAUTH/);

  const args = ["--port", "0", "--jwt-secret", SECRET, "--namespace", "/dashboard", "--redis", withPassword(PASSWORD)];
  const a = await serve(args, DEBUG);
  const b = await serve(args, DEBUG);
  nodes.push(a, b);

  // Cross-node delivery works, so both nodes really joined through the password.
  const mk = (node, sub) => {
    const c = io(`${node.url}/dashboard`, { auth: { token: hs256(SECRET, { sub, tenantId: "acme" }) }, transports: ["websocket"], reconnection: false, forceNew: true });
    clients.push(c);
    return c;
  };
  const ann = mk(a, "ann");
  const bea = mk(b, "bea");
  await Promise.all([ann, bea].map((c) => once(c, "connect", "a client to connect")));
  for (const c of [ann, bea]) await withTimeout(c.emitWithAck("subscribe", { room: "orders" }), "subscribe ack");
  const beaGets = once(bea, "order", "bea on node B to get an order posted to node A");
  const res = await apiPost(a, "/emit", { namespace: "/dashboard", event: "order", data: { id: 1 }, room: "orders", tenant: "acme" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { delivered: 2 });
  assert.deepEqual(await beaGets, [{ id: 1 }]);

  // A wrong password: refused at start, one line, no password (neither one) in it.
  const wrong = `wp${randomBytes(12).toString("hex")}`;
  const bad = await run(["serve", "--port", "0", "--redis", withPassword(wrong)]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /cannot join the cluster through Redis/);
  assert.ok(!`${bad.stdout}${bad.stderr}`.includes(wrong), `the wrong password is in the error: ${bad.stderr}`);

  // Redis dies under the nodes: the loss is logged (and reconnection attempts, if any).
  await redis.kill();
  for (const n of [a, b]) await eventually(() => /cluster: redis lost/.test(n.stderr()), "the node to say Redis is gone");
  await new Promise((r) => setTimeout(r, 500));

  for (const [name, n] of [["node A", a], ["node B", b]]) {
    const text = everything(n);
    // Positive control: debug output from the gateway and the Redis client is there.
    assert.match(n.stderr(), /DEBUG/, `${name} logged nothing at debug level`);
    assert.ok(text.split("\n").length > 20, `${name} logged only ${text.split("\n").length} lines`);
    assert.ok(text.includes(`127.0.0.1:${redis.port}`), `${name} never named the Redis server it uses`);
    assertNoPassword(text, `${name}'s output`);
  }
});
