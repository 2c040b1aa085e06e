// `sockscope serve --admin`: the embedded gateway speaking the Socket.IO Admin UI
// protocol (@socket.io/admin-ui 0.5), driven by real peers: socket.io-client 4.8 as
// the admin UI's transport, Sockscope's own admin client, and `audit tenants` over the
// embedded gateway and a recorded session. Every negative test has a positive
// control; every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir, hostname } from "node:os";
import { join } from "node:path";
import { io } from "socket.io-client";
import bcrypt from "bcryptjs";
import { apiPost, eventually, hs256, once, rawEngineIo, run, serve, withTimeout } from "./harness.mjs";

const SECRET = "admin-interop-secret";
const PASSWORD = "correct horse battery";
const COOKIE = "sid=cookie-secret-value";
let dir, pwFile, badPwFile, hash, srv;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sockscope-adminsrv-"));
  pwFile = join(dir, "pw");
  badPwFile = join(dir, "bad");
  writeFileSync(pwFile, `${PASSWORD}\n`);
  writeFileSync(badPwFile, "not the password\n");
  hash = bcrypt.hashSync(PASSWORD, 8);
  srv = await serve(adminServeArgs());
});

after(() => {
  srv?.child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function adminServeArgs(extra = []) {
  return [
    "--port", "0", "--jwt-secret", SECRET, "--namespace", "/chat",
    "--admin", "--admin-user", "admin", "--admin-password-hash", hash, ...extra,
  ];
}

/** A tenant's socket on /chat with a JWT, a cookie and its rooms subscribed. */
async function member(t, url, user, tenantId, rooms = []) {
  const token = hs256(SECRET, { sub: user, tenantId });
  const s = io(`${url}/chat`, {
    auth: { token },
    extraHeaders: { cookie: COOKIE, authorization: `Bearer ${token}` },
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  t.after(() => s.close());
  await once(s, "connect", `${user} to connect`);
  for (const room of rooms) {
    const ack = await withTimeout(s.emitWithAck("subscribe", { room }), `${user} to subscribe ${room}`);
    assert.equal(ack.ok, true);
  }
  return { s, token };
}

/** An admin connection recording every message it gets. */
function adminSocket(t, url, auth) {
  const s = io(`${url}/admin`, { auth, transports: ["websocket"], reconnection: false, forceNew: true });
  t.after(() => s.close());
  const got = [];
  s.onAny((event, ...args) => got.push([event, ...args]));
  const seen = (what, pred) =>
    eventually(() => got.find(([e, ...a]) => e === what && pred(...a)), what).catch((e) => {
      const log = got.filter(([m]) => m !== "server_stats").map((m) => JSON.stringify(m).slice(0, 160));
      throw new Error(`${e.message}; the admin got:\n${log.join("\n")}`);
    });
  return { s, got, seen };
}

const login = { username: "admin", password: PASSWORD };

test("/admin exists only with --admin; --admin-no-auth warns and needs no login", async (t) => {
  const plain = await serve(["--port", "0"]);
  t.after(() => plain.child.kill("SIGKILL"));
  const a = adminSocket(t, plain.url, login);
  const [err] = await once(a.s, "connect_error", "the plain gateway to refuse /admin");
  assert.match(err.message, /invalid namespace/i);
  assert.equal(a.got.length, 0);

  const open = await serve(["--port", "0", "--admin", "--admin-no-auth"]);
  t.after(() => open.child.kill("SIGKILL"));
  await eventually(() => open.stderr().includes("admin:"), "the admin trust line");
  assert.match(open.stderr(), /^admin: WARNING \/admin has no login \(--admin-no-auth\)/m);
  const b = adminSocket(t, open.url, {});
  await once(b.s, "connect", "an open admin namespace to accept");
  await b.seen("config", (c) => c.supportedFeatures.includes("JOIN"));

  // Production and read-only: stats only, no socket list, actions ignored (the
  // join test below is the control that they work otherwise).
  const ro = await serve(["--port", "0", "--admin", "--admin-no-auth", "--admin-mode", "production", "--admin-readonly"]);
  t.after(() => ro.child.kill("SIGKILL"));
  const c = io(ro.url, { transports: ["websocket"], reconnection: false, forceNew: true });
  t.after(() => c.close());
  await once(c, "connect", "a client of the read-only gateway");
  const r = adminSocket(t, ro.url, {});
  await once(r.s, "connect", "the read-only admin namespace");
  const [, roConfig] = await r.seen("config", () => true);
  assert.deepEqual(roConfig.supportedFeatures, ["AGGREGATED_EVENTS"]);
  await r.seen("server_stats", (x) => x.namespaces.some((n) => n.name === "/" && n.socketsCount === 1));
  r.s.emit("join", "/", "planted", c.id);
  await new Promise((res) => setTimeout(res, 300));
  const snap = await (await fetch(`${ro.url}/inspect`)).json();
  assert.deepEqual(snap.namespaces[0].sockets[0].rooms, []);
  assert.equal(r.got.some(([e]) => e === "all_sockets" || e === "room_joined"), false);

  // A login needs both halves, and a hash bcrypt can read.
  const half = await run(["serve", "--port", "0", "--admin", "--admin-user", "admin"]);
  assert.equal(half.code, 2);
  const notHash = await run(["serve", "--port", "0", "--admin", "--admin-user", "admin", "--admin-password-hash", "plain"]);
  assert.equal(notHash.code, 2);
  assert.match(notHash.stderr, /not a bcrypt hash/);
  assert.equal(notHash.stderr.trim().split("\n").length, 1, notHash.stderr);
  const wide = await run(["serve", "--port", "0", "--host", "0.0.0.0", "--admin", "--admin-no-auth"]);
  assert.equal(wide.code, 2);
  assert.match(wide.stderr, /loopback binds only/);
});

test("login: wrong password, no password, a forged session are refused; the real ones work", async (t) => {
  const { s: victim } = await member(t, srv.url, "vic", "acme");
  for (const [what, auth] of [
    ["a wrong password", { username: "admin", password: "nope" }],
    ["the right password for another user", { username: "root", password: PASSWORD }],
    ["no password", { username: "admin" }],
    ["no auth at all", {}],
    ["a forged session id", { sessionId: "0123456789abcdef0123456789abcdef" }],
  ]) {
    const a = adminSocket(t, srv.url, auth);
    const [err] = await once(a.s, "connect_error", `${what} to be refused`);
    assert.equal(err.message, "invalid credentials", what);
    assert.deepEqual(a.got, [], what);
    // The attack itself, on a raw Engine.IO connection (socket.io-client would buffer
    // a refused namespace's emit and never send it): the refused login, then the
    // _disconnect frame on the wire, then a connect to /chat on the same connection.
    // Frames are read in order, so the /chat answer proves the server read the
    // _disconnect before it.
    const raw = await rawEngineIo(srv.url);
    t.after(() => raw.close());
    await raw.send(`40/admin,${JSON.stringify(auth)}`);
    const refused = await raw.frame((f) => f.startsWith("44/admin,"), `${what}: the raw login to be refused`);
    assert.equal(JSON.parse(refused.slice("44/admin,".length)).message, "invalid credentials", what);
    await raw.send(`42/admin,${JSON.stringify(["_disconnect", "/chat", false, victim.id])}`);
    await raw.send(`40/chat,${JSON.stringify({ token: hs256(SECRET, { sub: "probe", tenantId: "acme" }) })}`);
    await raw.frame((f) => f.startsWith("40/chat,"), `${what}: the server to answer the frame after the _disconnect`);
    assert.equal(raw.frames.some((f) => f.startsWith("4") && f.includes("/admin") && !f.startsWith("44/admin,")), false, `${what}: the refused admin got an answer`);
    assert.equal(victim.connected, true, `${what}: a refused admin disconnected a socket`);
    raw.close();
  }
  assert.equal(victim.connected, true, "a refused admin disconnected a socket");
  // Positive control for the raw attack: the same frames after a real login do
  // disconnect the victim, so the frame above was well formed.
  const { s: victim2 } = await member(t, srv.url, "vic2", "acme");
  const raw = await rawEngineIo(srv.url);
  t.after(() => raw.close());
  await raw.send(`40/admin,${JSON.stringify(login)}`);
  await raw.frame((f) => f.startsWith("40/admin,"), "the raw admin login to succeed");
  const gone2 = once(victim2, "disconnect", "a raw, logged-in _disconnect to disconnect its target");
  await raw.send(`42/admin,${JSON.stringify(["_disconnect", "/chat", false, victim2.id])}`);
  assert.equal((await gone2)[0], "io server disconnect");

  // Positive control: the password logs in and gets a session id...
  const good = adminSocket(t, srv.url, login);
  await once(good.s, "connect", "the admin login");
  const [, sessionId] = await good.seen("session", (id) => typeof id === "string");
  await good.seen("config", (c) => Array.isArray(c.supportedFeatures));
  // ...which logs in again without the password, as the UI does on reload.
  const again = adminSocket(t, srv.url, { sessionId });
  await once(again.s, "connect", "the session id to log in");
  await again.seen("config", () => true);
  assert.equal(again.got.some(([e]) => e === "session"), false);
  // And the logged-in admin can act: the victim is disconnected.
  const gone = once(victim, "disconnect", "the victim to be disconnected by a real admin");
  again.s.emit("_disconnect", "/chat", false, victim.id);
  assert.equal((await gone)[0], "io server disconnect");
});

test("config, server_stats, all_sockets and live socket, room and event messages", async (t) => {
  const { s: ann, token } = await member(t, srv.url, "ann", "acme", ["lobby"]);
  const a = adminSocket(t, srv.url, login);
  await once(a.s, "connect", "the admin login");
  const [, config] = await a.seen("config", () => true);
  for (const f of ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"]) {
    assert.ok(config.supportedFeatures.includes(f), f);
  }
  const [, all] = await a.seen("all_sockets", (list) => list.some((x) => x.id === ann.id));
  const mine = all.find((x) => x.id === ann.id);
  assert.equal(mine.nsp, "/chat");
  assert.equal(mine.transport, "websocket");
  assert.equal(mine.handshake.address, "127.0.0.1");
  assert.deepEqual(mine.data, { tenantId: "acme", user: "ann" });
  assert.ok(mine.rooms.includes(ann.id) && mine.rooms.includes("tenant:acme:room:lobby"), mine.rooms);
  // Secrets in the handshake are redacted before they leave.
  const wire = JSON.stringify(all);
  assert.ok(!wire.includes(token), "the JWT left in all_sockets");
  assert.ok(!wire.includes("cookie-secret-value"), "the cookie left in all_sockets");
  assert.notEqual(mine.handshake.headers.authorization, `Bearer ${token}`);

  const port = new URL(srv.url).port;
  const [, stats] = await a.seen("server_stats", (x) => x.namespaces.some((n) => n.name === "/chat" && n.socketsCount >= 1));
  assert.equal(stats.serverId, `${hostname()}#${port}`);
  assert.equal(stats.hostname, hostname());
  assert.equal(typeof stats.pid, "number");
  assert.ok(Array.isArray(stats.aggregatedEvents));

  // Live: a connect, a join, an event each way, an aggregated count, a disconnect.
  const { s: carol } = await member(t, srv.url, "carol", "acme", ["ops"]);
  await a.seen("socket_connected", (x) => x.id === carol.id && x.data.tenantId === "acme");
  await a.seen("room_joined", (nsp, room, id) => nsp === "/chat" && room === "tenant:acme:room:ops" && id === carol.id);
  carol.emit("hello", { x: 1 });
  await a.seen("event_received", (nsp, id, args) => id === carol.id && args[0] === "hello" && args[1].x === 1);
  const res = await apiPost(srv, "/emit", { namespace: "/chat", event: "order", data: { n: 7 }, room: "ops", tenant: "acme" });
  assert.equal(res.status, 200);
  await a.seen("event_sent", (nsp, id, args) => id === carol.id && args[0] === "order" && args[1].n === 7);
  await a.seen("server_stats", (x) => x.aggregatedEvents.some((e) => e.type === "packetsIn" && e.count >= 1));
  const carolId = carol.id; // the client forgets its id once closed
  carol.close();
  await a.seen("socket_disconnected", (nsp, id, reason) => nsp === "/chat" && id === carolId && typeof reason === "string");
});

test("the UI's join, leave, emit and _disconnect act on the embedded gateway", async (t) => {
  const { s: ann } = await member(t, srv.url, "ann2", "acme");
  const { s: bob } = await member(t, srv.url, "bob2", "globex");
  const a = adminSocket(t, srv.url, login);
  await once(a.s, "connect", "the admin login");
  await a.seen("config", () => true);
  const rooms = async (id) => {
    const r = await fetch(`${srv.url}/inspect`, { headers: { authorization: `Bearer ${srv.apiToken}` } });
    const snap = await r.json();
    return snap.namespaces.flatMap((n) => n.sockets).find((s) => s.id === id)?.rooms ?? [];
  };

  a.s.emit("join", "/chat", "vip", ann.id);
  await a.seen("room_joined", (nsp, room, id) => room === "vip" && id === ann.id);
  assert.ok((await rooms(ann.id)).includes("vip"));
  assert.ok(!(await rooms(bob.id)).includes("vip"));

  // An emit to the room reaches ann; bob (not in it) gets nothing.
  const bobGot = [];
  bob.on("notice", (d) => bobGot.push(d));
  const got = once(ann, "notice", "ann to get the admin's emit");
  a.s.emit("emit", "/chat", "vip", "notice", { a: 1 });
  assert.deepEqual(await got, [{ a: 1 }]);
  // And an emit to one socket by its id.
  const direct = once(bob, "direct", "bob to get the emit to his id");
  a.s.emit("emit", "/chat", bob.id, "direct", "hi", 2);
  assert.deepEqual(await direct, ["hi", 2]);
  assert.deepEqual(bobGot, []);

  a.s.emit("leave", "/chat", "vip", ann.id);
  await a.seen("room_left", (nsp, room, id) => room === "vip" && id === ann.id);
  assert.ok(!(await rooms(ann.id)).includes("vip"));

  const bobGone = once(bob, "disconnect", "bob to be disconnected");
  a.s.emit("_disconnect", "/chat", false, bob.id);
  assert.equal((await bobGone)[0], "io server disconnect");
  assert.equal(ann.connected, true);
});

test("sockscope admin inspects and acts on serve --admin", async (t) => {
  const { s: ann } = await member(t, srv.url, "ann3", "acme", ["lobby"]);
  const { s: dan } = await member(t, srv.url, "dan3", "globex");
  const admin = (...args) => ["admin", srv.url, "--username", "admin", "--password-file", pwFile, "--timeout", "8s", ...args];

  const ins = await run(admin("inspect"));
  assert.equal(ins.code, 0, ins.stderr);
  assert.match(ins.stdout, /\(development mode\)/);
  assert.match(ins.stdout, new RegExp(`${hostname()}#${new URL(srv.url).port} .*healthy`));
  assert.match(ins.stdout, new RegExp(`/chat ${ann.id} transport=websocket .*tenant:acme:room:lobby.*"tenantId":"acme"`));
  assert.ok(!ins.stdout.includes("cookie-secret-value"));

  const join = await run(admin("join", "vip3", dan.id, "--nsp", "/chat"));
  assert.equal(join.code, 0, join.stderr);
  assert.match(join.stdout, /confirmed by the server/);
  const disc = once(dan, "disconnect", "dan to be disconnected by sockscope admin");
  const d = await run(admin("disconnect", dan.id));
  assert.equal(d.code, 0, d.stderr);
  assert.equal((await disc)[0], "io server disconnect");

  const bad = await run(["admin", srv.url, "--username", "admin", "--password-file", badPwFile, "--timeout", "8s", "inspect"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), `sockscope: error: ${srv.url} refused the admin login: invalid credentials`);
});

test("audit tenants over the embedded gateway: clean exits 0, a planted membership exits 1", async (t) => {
  const g = await serve(adminServeArgs());
  t.after(() => g.child.kill("SIGKILL"));
  await member(t, g.url, "ann", "acme", ["lobby"]);
  const { s: bob } = await member(t, g.url, "bob", "globex", ["lobby"]);
  const audit = (...extra) => run(["audit", "tenants", "--url", g.url, "--api-token", g.apiToken, ...extra]);

  const clean = await audit();
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /^tenant acme: \/chat /m);
  assert.match(clean.stdout, /^tenant globex: \/chat /m);
  assert.match(clean.stdout, /^0 finding\(s\)$/m);

  // Plant: an admin puts bob (globex) into acme's lobby.
  const a = adminSocket(t, g.url, login);
  await once(a.s, "connect", "the admin login");
  a.s.emit("join", "/chat", "tenant:acme:room:lobby", bob.id);
  await a.seen("room_joined", (nsp, room, id) => id === bob.id);
  const leak = await audit();
  assert.equal(leak.code, 1, leak.stdout + leak.stderr);
  assert.match(leak.stdout, new RegExp(`LEAK /chat socket ${bob.id} of tenant globex is in room tenant:acme:room:lobby of tenant acme`));
  assert.match(leak.stdout, /LEAK \/chat room tenant:acme:room:lobby is shared by tenants acme, globex/);
  // The same gateway through its admin namespace: the same finding.
  const viaAdmin = await run(["audit", "tenants", "--admin", g.url, "--username", "admin", "--password-file", pwFile, "--tenant-room", "tenant:{tenant}:*"]);
  assert.equal(viaAdmin.code, 1, viaAdmin.stdout + viaAdmin.stderr);
  assert.match(viaAdmin.stdout, new RegExp(`socket ${bob.id} of tenant globex is in room tenant:acme:room:lobby`));
  // With a wrong token the embedded gateway's API refuses: one line, exit 2.
  const wrong = await run(["audit", "tenants", "--url", g.url, "--api-token", "ssk_wrong"]);
  assert.equal(wrong.code, 2);
  assert.equal(wrong.stderr.trim().split("\n").length, 1, wrong.stderr);
});

/** Runs a recorded gateway through `body`, stops it and returns its session id. */
async function recorded(t, db, name, body) {
  const g = await serve(adminServeArgs(["--record", name, "--db", db]));
  t.after(() => g.child.kill("SIGKILL"));
  await body(g);
  g.child.kill("SIGTERM");
  const { code } = await withTimeout(g.exited, "the recorded gateway to stop");
  assert.equal(code, 0, g.stderr());
  const id = /session (\d+):/.exec(g.stderr())?.[1];
  assert.ok(id, g.stderr());
  return id;
}

test("audit tenants over a recorded session: rooms and deliveries, clean and planted", async (t) => {
  const db = join(dir, "sessions.db");
  const scene = (plant) => async (g) => {
    await member(t, g.url, "ann", "acme", ["lobby"]);
    const { s: bob } = await member(t, g.url, "bob", "globex", ["lobby"]);
    if (plant) {
      const a = adminSocket(t, g.url, login);
      await once(a.s, "connect", "the admin login");
      a.s.emit("join", "/chat", "tenant:acme:room:lobby", bob.id);
      await a.seen("room_joined", (nsp, room, id) => id === bob.id);
    }
    // bob speaks (its record carries its rooms), then acme's lobby gets an order.
    await withTimeout(bob.emitWithAck("ping", {}), "bob's ping");
    const bobGot = [];
    bob.on("order", (d) => bobGot.push(d));
    const res = await apiPost(g, "/emit", { namespace: "/chat", event: "order", data: { tenantId: "acme", n: 1 }, room: "lobby", tenant: "acme" });
    assert.equal(res.status, 200);
    // The leak is real when planted (bob got acme's order), absent otherwise.
    if (plant) await eventually(() => bobGot.length === 1, "bob to receive acme's order");
    else {
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(bobGot, []);
    }
  };
  const clean = await recorded(t, db, "clean", scene(false));
  const planted = await recorded(t, db, "planted", scene(true));

  const ok = await run(["audit", "tenants", "--session", clean, "--db", db]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^0 finding\(s\)$/m);
  assert.match(ok.stdout, /^tenant acme: /m);

  const bad = await run(["audit", "tenants", "--session", planted, "--db", db, "--json"]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  const report = JSON.parse(bad.stdout);
  const kinds = report.findings.map((f) => f.kind);
  assert.ok(kinds.includes("foreign_room"), kinds);
  assert.ok(kinds.includes("payload_leak"), kinds);
  const payload = report.findings.find((f) => f.kind === "payload_leak");
  assert.equal(payload.socket_tenant, "globex");
  assert.equal(payload.payload_tenant, "acme");
  assert.equal(payload.event, "order");

  const missing = await run(["audit", "tenants", "--session", "999", "--db", db]);
  assert.equal(missing.code, 2);
});
