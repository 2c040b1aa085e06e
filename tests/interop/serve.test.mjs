// A Node socket.io-client 4.8 (the npm package front ends use) against `sockscope serve`:
// JWT handshake, subscribe, HTTP emit, acks, connect_error messages, clean shutdown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { apiPost, eventually, hs256, once, run, serve, withTimeout } from "./harness.mjs";

const SECRET = "interop-secret";

function connect(url, ns, auth) {
  return io(url + ns, { auth, transports: ["websocket"], reconnection: false, forceNew: true });
}

test("socket.io-client authenticates, subscribes, gets HTTP-emitted events and acks", async (t) => {
  const srv = await serve(["--port", "0", "--jwt-secret", SECRET, "--namespace", "/dashboard"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const token = hs256(SECRET, { sub: "ann", tenantId: "acme" });
  const other = hs256(SECRET, { sub: "bob", tenantId: "globex" });

  const a = connect(srv.url, "/dashboard", { token });
  const b = connect(srv.url, "/dashboard", { token: other });
  t.after(() => { a.close(); b.close(); });
  await Promise.all([once(a, "connect", "ann to connect"), once(b, "connect", "bob to connect")]);

  assert.deepEqual(await withTimeout(a.emitWithAck("subscribe", { room: "orders" }), "subscribe ack"), { ok: true, room: "orders" });
  assert.deepEqual(await withTimeout(b.emitWithAck("subscribe", { room: "orders" }), "subscribe ack"), { ok: true, room: "orders" });

  const bGot = [];
  b.on("order", (d) => bGot.push(d));
  const got = once(a, "order", "the HTTP-emitted order");
  const res = await apiPost(srv, "/emit", { namespace: "/dashboard", event: "order", data: { id: 7 }, room: "orders", tenant: "acme" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { delivered: 1 });
  assert.deepEqual(await got, [{ id: 7 }]);

  const ack = await withTimeout(a.emitWithAck("hello", { x: 1 }, "second"), "hello ack");
  assert.equal(ack.ok, true);
  assert.equal(typeof ack.seq, "number");

  // The gateway printed the event as a JSON line with all its arguments, and no token.
  const hello = await eventually(
    () => srv.lines.map((l) => JSON.parse(l)).find((r) => r.event === "hello"),
    "the hello event on stdout",
  );
  assert.deepEqual(hello.args, [{ x: 1 }, "second"]);
  assert.equal(hello.tenant, "acme");
  assert.equal(hello.user, "ann");
  assert.equal(hello.direction, "c2s");
  assert.deepEqual(hello.ack.reply, ack);
  assert.ok(!srv.lines.join("\n").includes(token), "a token leaked into the output");

  // Tenant isolation: bob never saw acme's order.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(bGot, []);

  // SIGTERM shuts down cleanly.
  srv.child.kill("SIGTERM");
  const { code } = await withTimeout(srv.exited, "serve to exit on SIGTERM");
  assert.equal(code, 0);
});

test("a wrong or missing token gets a connect_error that says why", async (t) => {
  const srv = await serve(["--port", "0", "--jwt-secret", SECRET]);
  t.after(() => srv.child.kill("SIGKILL"));
  const cases = [
    [{ token: hs256("not-the-secret", { sub: "x" }) }, /bad signature/],
    [{}, /missing token/],
    [{ token: hs256(SECRET, { sub: "x", exp: 1000 }) }, /token expired/],
  ];
  for (const [auth, reason] of cases) {
    const c = connect(srv.url, "/", auth);
    const [err] = await once(c, "connect_error", `connect_error for ${reason}`);
    c.close();
    assert.match(err.message, reason);
  }
});

test("bad flags and a busy port exit with code 2 and one line", async (t) => {
  const srv = await serve(["--port", "0"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const port = new URL(srv.url).port;
  const busy = await run(["serve", "--port", port]);
  assert.equal(busy.code, 2);
  assert.match(busy.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
  assert.equal(busy.stderr.trim().split("\n").length, 1, busy.stderr);

  const bad = await run(["serve", "--port", "not-a-port"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not-a-port/);
});

test("POST /notify-users reaches that user's sockets in that tenant only; inspect shows the tree", async (t) => {
  const srv = await serve(["--port", "0", "--jwt-secret", SECRET]);
  t.after(() => srv.child.kill("SIGKILL"));
  const annAcme = connect(srv.url, "/", { token: hs256(SECRET, { sub: "ann", tenantId: "acme" }) });
  const annGlobex = connect(srv.url, "/", { token: hs256(SECRET, { sub: "ann", tenantId: "globex" }) });
  const bobAcme = connect(srv.url, "/", { token: hs256(SECRET, { sub: "bob", tenantId: "acme" }) });
  t.after(() => { annAcme.close(); annGlobex.close(); bobAcme.close(); });
  await Promise.all([once(annAcme, "connect"), once(annGlobex, "connect"), once(bobAcme, "connect")]);
  const others = [];
  annGlobex.on("notification", (d) => others.push(d));
  bobAcme.on("notification", (d) => others.push(d));
  const got = once(annAcme, "notification");
  const r = await apiPost(srv, "/notify-users", { tenantId: "acme", users: ["ann"], data: { text: "hi" } });
  assert.deepEqual(await r.json(), { delivered: 1 });
  assert.deepEqual((await got)[0], { text: "hi" });

  const bad = await apiPost(srv, "/notify-users", "{");
  assert.equal(bad.status, 400);

  const tree = await run(["inspect", "--url", srv.url]);
  assert.equal(tree.code, 0, tree.stderr);
  assert.match(tree.stdout, /tenant acme/);
  assert.match(tree.stdout, /tenant globex/);
  assert.match(tree.stdout, new RegExp(`socket ${annAcme.id} user=ann rooms=\\[tenant:acme:user:ann\\]`));
  const json = JSON.parse((await run(["inspect", "--url", srv.url, "--json"])).stdout);
  const s = json.namespaces[0].sockets.find((x) => x.id === bobAcme.id);
  assert.equal(s.tenant, "acme");
  assert.equal(s.transport, "websocket");
  assert.ok(s.connected_at > 0);
  const down = await run(["inspect", "--url", "http://127.0.0.1:1"]);
  assert.equal(down.code, 2);
  assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:1\/inspect/);

  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(others, []);
});
