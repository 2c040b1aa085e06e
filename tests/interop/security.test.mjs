// The trust model, tried as an attacker would (issue 9): every forged identity, forged
// room and unauthenticated API call fails, and every test has a positive control: the
// legitimate recipient does get the event, so a broken setup cannot pass.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { io } from "socket.io-client";
import { apiPost, hs256, once, run, serve, withTimeout } from "./harness.mjs";

const SECRET = "security-test-secret";
const QUIET_MS = 300;

/** Collects `event` on `socket`, for asserting that nothing arrived. */
function collect(socket, event) {
  const got = [];
  socket.on(event, (d) => got.push(d));
  return got;
}

/** Resolves with the connect_error message, or fails if the socket connects. */
function refused(socket) {
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once("connect", () => reject(new Error("the forged handshake was accepted")));
      socket.once("connect_error", (e) => resolve(e.message));
    }),
    "connect_error",
  );
}

const quiet = () => new Promise((r) => setTimeout(r, QUIET_MS));

function steedosClient(url, { space, token } = {}) {
  const extraHeaders = {};
  if (space) extraHeaders["X-Space-Id"] = space;
  if (token) extraHeaders["X-Auth-Token"] = token;
  return io(url, { path: "/socket.io/", extraHeaders, transports: ["polling"], reconnection: false });
}

test("steedos with a key: the space comes from the verified token; forged spaces and anonymous sockets reach nothing", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "steedos", "--jwt-secret", SECRET]);
  t.after(() => srv.child.kill("SIGKILL"));
  assert.match(srv.stderr(), /auth: on, identities come from verified tokens only/);

  // The attack: a token for space `evil` claiming X-Space-Id `acme`.
  const forged = steedosClient(srv.url, { space: "acme", token: hs256(SECRET, { sub: "mallory", tenantId: "evil" }) });
  t.after(() => forged.close());
  assert.match(await refused(forged), /identity mismatch: X-Space-Id "acme" is not the token's space "evil"/);

  const ann = steedosClient(srv.url, { space: "acme", token: hs256(SECRET, { sub: "ann", tenantId: "acme" }) });
  const mallory = steedosClient(srv.url, { token: hs256(SECRET, { sub: "mallory", tenantId: "evil" }) });
  const anon = steedosClient(srv.url, { space: "acme" });
  t.after(() => { ann.close(); mallory.close(); anon.close(); });
  await Promise.all([once(ann, "connect"), once(mallory, "connect"), once(anon, "connect")]);
  assert.deepEqual((await ann.emitWithAck("subscribe", { roomParts: "orders" })).rooms, ["acme-orders"]);
  assert.deepEqual((await mallory.emitWithAck("subscribe", { roomParts: "orders" })).rooms, ["evil-orders"]);
  const anonSub = await anon.emitWithAck("subscribe", { roomParts: "orders" });
  assert.equal(anonSub.ok, false);
  assert.match(anonSub.error, /anonymous sockets join no space/);

  const malloryGot = collect(mallory, "order");
  const anonGot = collect(anon, "order");
  const annGot = once(ann, "order", "acme's order (positive control)");
  const r = await apiPost(srv, "/socket.emit", { eventName: "order", eventParams: { id: 1 }, room: "acme-orders" });
  assert.deepEqual(await r.json(), { delivered: 1 });
  assert.deepEqual((await annGot)[0], { id: 1 });
  await quiet();
  assert.deepEqual(malloryGot, [], "another space's socket got acme's order");
  assert.deepEqual(anonGot, [], "an anonymous socket got acme's order");
});

test("steedos: a shared room part never names a user's individual room", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "steedos", "--jwt-secret", SECRET]);
  t.after(() => srv.child.kill("SIGKILL"));
  const alice = steedosClient(srv.url, { space: "acme", token: hs256(SECRET, { sub: "alice", tenantId: "acme" }) });
  const bob = steedosClient(srv.url, { space: "acme", token: hs256(SECRET, { sub: "bob", tenantId: "acme" }) });
  t.after(() => { alice.close(); bob.close(); });
  await Promise.all([once(alice, "connect"), once(bob, "connect")]);

  const own = await alice.emitWithAck("subscribe", { roomParts: "notification-change", individual: true });
  assert.deepEqual(own.rooms, ["acme-notification-change@alice"]);
  // The attacks: the seed's individual-room shape, and ours, as shared parts.
  const seedShape = await bob.emitWithAck("subscribe", { roomParts: "notification-change-alice" });
  assert.deepEqual(seedShape.rooms, ["acme-notification-change-alice"]);
  const ourShape = await bob.emitWithAck("subscribe", { roomParts: "notification-change@alice" });
  assert.equal(ourShape.ok, false);
  assert.match(ourShape.error, /contains '@'/);

  const bobGot = collect(bob, "s:notification-change");
  const aliceGot = once(alice, "s:notification-change", "alice's notification (positive control)");
  const r = await apiPost(srv, "/notification.users", { tenantId: "acme", users: ["alice"], message: "for alice only" });
  assert.deepEqual(await r.json(), { delivered: 1 });
  assert.deepEqual((await aliceGot)[0], { message: "for alice only" });
  await quiet();
  assert.deepEqual(bobGot, [], "bob reached alice's individual room");
});

test("generic: subscribe {room: 'user:bob'} does not reach bob's personal room", async (t) => {
  const srv = await serve(["--port", "0", "--jwt-secret", SECRET]);
  t.after(() => srv.child.kill("SIGKILL"));
  const bob = io(srv.url, { auth: { token: hs256(SECRET, { sub: "bob", tenantId: "acme" }) }, transports: ["websocket"] });
  const mallory = io(srv.url, { auth: { token: hs256(SECRET, { sub: "mallory", tenantId: "acme" }) }, transports: ["websocket"] });
  t.after(() => { bob.close(); mallory.close(); });
  await Promise.all([once(bob, "connect"), once(mallory, "connect")]);
  for (const room of ["user:bob", "tenant:acme:user:bob", "public:user:bob", ":user:bob"]) {
    assert.equal((await mallory.emitWithAck("subscribe", { room })).ok, true);
  }
  const malloryGot = collect(mallory, "notification");
  const bobGot = once(bob, "notification", "bob's notification (positive control)");
  const r = await apiPost(srv, "/notify-users", { tenantId: "acme", users: ["bob"], data: { text: "for bob" } });
  assert.deepEqual(await r.json(), { delivered: 1 });
  assert.deepEqual((await bobGot)[0], { text: "for bob" });
  await quiet();
  assert.deepEqual(malloryGot, [], "mallory named her way into bob's room");
});

test("jet-admin with a key: a firebase_id naming someone else is refused", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jet-admin", "--jwt-secret", SECRET]);
  t.after(() => srv.child.kill("SIGKILL"));
  const forged = io(srv.url, { auth: { token: hs256(SECRET, { sub: "mallory" }), firebase_id: "alice" }, transports: ["websocket"], reconnection: false });
  t.after(() => forged.close());
  assert.match(await refused(forged), /identity mismatch: firebase_id "alice" is not the token's user "mallory"/);
  // Positive control: the matching pair connects and is served.
  const alice = io(srv.url, { auth: { token: hs256(SECRET, { sub: "alice" }), firebase_id: "alice" }, transports: ["websocket"], reconnection: false });
  t.after(() => alice.close());
  await once(alice, "connect");
  const ack = await alice.emitWithAck("ai_chat_user_message", { message: "hi", chatRoomID: "r1" });
  assert.equal(ack.ok, true);
});

test("HTTP API with a key: 401 without the token, served with it; the CLI finds the generated token", async (t) => {
  const srv = await serve(["--port", "0", "--jwt-secret", SECRET]);
  t.after(() => srv.child.kill("SIGKILL"));
  assert.ok(srv.apiToken, `serve printed no API token: ${srv.stderr()}`);
  const file = /also in (\S+),/.exec(srv.stderr())?.[1];
  assert.ok(file, srv.stderr());
  assert.equal(statSync(file).mode & 0o777, 0o600, "the token file is readable by others");

  const emit = { event: "ping", data: {} };
  for (const token of [null, "wrong", `${srv.apiToken}x`]) {
    const r = await apiPost(srv, "/emit", emit, token);
    assert.equal(r.status, 401, `token ${token}`);
    const body = await r.json();
    assert.equal(body.code, "unauthorized");
    assert.match(body.error, token ? /wrong API token/ : /needs Authorization: Bearer/);
  }
  for (const path of ["/inspect", "/templates"]) {
    assert.equal((await fetch(`${srv.url}${path}`)).status, 401, path);
  }
  for (const path of ["/notify-users", "/templates/send"]) {
    assert.equal((await apiPost(srv, path, {}, null)).status, 401, path);
  }
  // Positive controls: the token opens every route.
  assert.equal((await apiPost(srv, "/emit", emit)).status, 200);
  assert.equal((await fetch(`${srv.url}/inspect`, { headers: { authorization: `Bearer ${srv.apiToken}` } })).status, 200);
  const inspect = await run(["inspect", "--url", srv.url]);
  assert.equal(inspect.code, 0, inspect.stderr);
  const wrong = await withTimeout(
    new Promise((resolve) => {
      const env = { ...process.env, SOCKSCOPE_API_TOKEN: "wrong" };
      const child = spawn(process.env.SOCKSCOPE_BIN, ["inspect", "--url", srv.url], { env });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ code, stderr }));
    }),
    "inspect with a wrong token",
  );
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /401/);
  assert.equal(wrong.stderr.trim().split("\n").length, 1, wrong.stderr);
});

test("no key on loopback: the API stays open and serve says identities are not verified; a non-loopback bind needs the token", async (t) => {
  const open = await serve(["--port", "0"]);
  t.after(() => open.child.kill("SIGKILL"));
  assert.match(open.stderr(), /auth: off, identities are not verified/);
  assert.equal((await apiPost(open, "/emit", { event: "x", data: 1 }, null)).status, 200);

  const wide = await serve(["--port", "0", "--host", "0.0.0.0"]);
  t.after(() => wide.child.kill("SIGKILL"));
  const port = new URL(wide.url).port;
  const local = { url: `http://127.0.0.1:${port}`, apiToken: wide.apiToken };
  assert.equal((await apiPost(local, "/emit", { event: "x", data: 1 }, null)).status, 401);
  assert.equal((await apiPost(local, "/emit", { event: "x", data: 1 })).status, 200);
});

test("CORS: only listed and local origins are answered, credentials never for others", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "gxp", "--cors-origin", "https://app.example"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const probe = async (origin, method = "GET") => {
    const headers = { origin };
    if (method === "OPTIONS") {
      headers["access-control-request-method"] = "POST";
      headers["access-control-request-headers"] = "content-type";
    }
    const r = await fetch(`${srv.url}/inspect`, { method, headers });
    return { acao: r.headers.get("access-control-allow-origin"), acac: r.headers.get("access-control-allow-credentials") };
  };
  for (const evil of ["http://evil.example", "http://localhost.evil.example", "null"]) {
    for (const method of ["GET", "OPTIONS"]) {
      const h = await probe(evil, method);
      assert.equal(h.acao, null, `${method} ${evil} was answered`);
      assert.equal(h.acac, null, `${method} ${evil} got credentials`);
    }
  }
  for (const good of ["http://localhost:5173", "https://127.0.0.1:3000", "https://app.example"]) {
    const h = await probe(good);
    assert.equal(h.acao, good);
    assert.equal(h.acac, "true");
    assert.equal((await probe(good, "OPTIONS")).acao, good);
  }
});
