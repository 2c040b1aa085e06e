// `sockscope admin` against a real Node socket.io 4.8 gateway instrumented with
// @socket.io/admin-ui 0.5.1 (basic auth with a bcrypt hash, development mode, two
// namespaces, sockets carrying data.tenantId). Every assertion about an action is
// made on the Node side; every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir, hostname } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { io as connectClient } from "socket.io-client";
import { instrument } from "@socket.io/admin-ui";
import bcrypt from "bcryptjs";
import { sockscopeBin, withTimeout, once, eventually, run } from "./harness.mjs";

const PASSWORD = "correct horse battery";
const BEARER = "Bearer top-secret-jwt";
let dir, pwFile, badPwFile, http, io, url, roHttp, roIo, roUrl, prodHttp, prodIo, prodUrl;
const clients = {};

async function listen(server) {
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

function client(nsp, tenantId) {
  const s = connectClient(`${url}${nsp}`, {
    auth: { tenantId },
    extraHeaders: { authorization: BEARER },
    forceNew: true,
    reconnection: false,
  });
  return withTimeout(new Promise((resolve) => s.on("connect", () => resolve(s))), `client ${nsp} ${tenantId} to connect`);
}

const admin = (...args) => [
  "admin", url, "--username", "admin", "--password-file", pwFile, "--timeout", "8s", ...args,
];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sockscope-admin-"));
  pwFile = join(dir, "pw");
  badPwFile = join(dir, "bad-pw");
  writeFileSync(pwFile, `${PASSWORD}\n`);
  writeFileSync(badPwFile, "not the password\n");

  http = createServer();
  io = new Server(http);
  const tenant = (socket, next) => {
    socket.data.tenantId = socket.handshake.auth.tenantId;
    next();
  };
  io.use(tenant);
  io.of("/chat").use(tenant);
  io.of("/chat").on("connection", (s) => s.join(`tenant:${s.data.tenantId}:lobby`));
  io.on("connection", (s) => s.on("say", (text) => s.emit("said", { text })));
  instrument(io, {
    auth: { type: "basic", username: "admin", password: bcrypt.hashSync(PASSWORD, 8) },
    mode: "development",
  });
  url = await listen(http);

  // A second gateway, read-only and in production mode, for the refusals.
  roHttp = createServer();
  roIo = new Server(roHttp);
  instrument(roIo, { auth: false, readonly: true, mode: "production" });
  roUrl = await listen(roHttp);

  // A third, in production mode (stats only, no socket list) but not read-only.
  prodHttp = createServer();
  prodIo = new Server(prodHttp);
  instrument(prodIo, {
    auth: { type: "basic", username: "admin", password: bcrypt.hashSync(PASSWORD, 8) },
    mode: "production",
  });
  prodUrl = await listen(prodHttp);

  clients.a = await client("/", "acme");
  clients.b = await client("/chat", "acme");
  clients.c = await client("/chat", "globex");
});

after(async () => {
  for (const s of Object.values(clients)) s.disconnect();
  io?.close();
  roIo?.close();
  prodIo?.close();
  prodHttp?.closeAllConnections?.();
  http?.closeAllConnections?.();
  roHttp?.closeAllConnections?.();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts a long-running `sockscope ARGS`; resolves once stderr matches `ready`. */
async function start(args, ready) {
  const child = spawn(sockscopeBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  let stderr = "";
  createInterface({ input: child.stdout }).on("line", (l) => lines.push(l));
  const exited = new Promise((resolve) => child.on("close", (code) => resolve(code)));
  await withTimeout(
    new Promise((resolve, reject) => {
      child.stderr.on("data", (d) => {
        stderr += d;
        if (ready.test(stderr)) resolve();
      });
      child.on("exit", (code) => reject(new Error(`${args[2]} exited with ${code}: ${stderr}`)));
    }),
    `sockscope ${args.join(" ")} to start`,
  );
  return { child, lines, exited, stderr: () => stderr };
}

test("inspect lists servers, namespaces, rooms and sockets with secrets redacted", async () => {
  const r = await run(admin("inspect", "--json"));
  assert.equal(r.code, 0, r.stderr);
  const snap = JSON.parse(r.stdout);
  assert.equal(snap.mode, "development");
  assert.ok(snap.features.includes("JOIN") && snap.features.includes("ALL_EVENTS"), snap.features);

  assert.equal(snap.servers.length, 1);
  const [server] = snap.servers;
  assert.equal(server.id, hostname());
  assert.equal(server.pid, process.pid);
  assert.ok(server.healthy);
  assert.ok(server.clients >= 3, `clients ${server.clients}`);

  const names = snap.namespaces.map((n) => n.name);
  assert.ok(names.includes("/") && names.includes("/chat"), names);
  const chat = snap.namespaces.find((n) => n.name === "/chat");
  assert.equal(chat.sockets, 2);

  const byId = Object.fromEntries(snap.sockets.map((s) => [s.id, s]));
  for (const [k, nsp] of [["a", "/"], ["b", "/chat"], ["c", "/chat"]]) {
    assert.equal(byId[clients[k].id]?.namespace, nsp, `socket ${k}`);
  }
  assert.equal(byId[clients.b.id].data.tenantId, "acme");
  assert.equal(byId[clients.c.id].data.tenantId, "globex");
  assert.equal(byId[clients.b.id].address, "127.0.0.1");
  // The bearer token the clients sent is redacted; a harmless header is kept.
  assert.equal(byId[clients.b.id].headers.authorization, "[redacted]");
  assert.ok(byId[clients.b.id].headers.host, "host header kept");
  assert.ok(!r.stdout.includes("top-secret-jwt"), "bearer token leaked");

  const acme = snap.rooms.find((x) => x.name === "tenant:acme:lobby");
  assert.deepEqual(acme.sockets, [clients.b.id]);
  const globex = snap.rooms.find((x) => x.name === "tenant:globex:lobby");
  assert.deepEqual(globex.sockets, [clients.c.id]);

  // The human form says the same in lines.
  const h = await run(admin("inspect"));
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /healthy/);
  assert.match(h.stdout, new RegExp(`/chat tenant:acme:lobby sockets=${clients.b.id}`));
});

test("audit groups sockets by tenant and reports a planted cross-tenant membership", async () => {
  const audit = admin("audit", "--tenant-room", "tenant:{tenant}:*", "--json");
  // Positive control: the clean gateway has no findings and exits 0.
  const clean = await run(audit);
  assert.equal(clean.code, 0, clean.stderr);
  const report = JSON.parse(clean.stdout);
  assert.deepEqual(report.findings, []);
  assert.deepEqual(report.untenanted, [], "admin sessions are not counted as app sockets");
  assert.deepEqual(
    report.tenants.acme.sort(),
    [`/ ${clients.a.id}`, `/chat ${clients.b.id}`].sort(),
  );
  assert.deepEqual(report.tenants.globex, [`/chat ${clients.c.id}`]);

  // Plant: globex's socket joins acme's room on the real server.
  const c = io.of("/chat").sockets.get(clients.c.id);
  c.join("tenant:acme:lobby");
  try {
    const leak = await run(audit);
    assert.equal(leak.code, 1, leak.stderr);
    const kinds = JSON.parse(leak.stdout).findings.map((f) => [f.kind, f.socket ?? f.room]);
    assert.deepEqual(kinds, [
      ["socket_in_many_tenants", clients.c.id],
      ["foreign_room", clients.c.id],
      ["shared_room", "tenant:acme:lobby"],
    ]);
    const human = await run(admin("audit", "--tenant-room", "tenant:{tenant}:*"));
    assert.equal(human.code, 1);
    assert.match(human.stdout, new RegExp(`LEAK /chat socket ${clients.c.id} of tenant globex is in room tenant:acme:lobby of tenant acme`));
  } finally {
    c.leave("tenant:acme:lobby");
  }
  // Payloads: an event to globex's socket naming acme is a leak; the same event to
  // acme's own socket (the positive control, through the same relay) is not.
  const listen = await start(admin("audit", "--listen", "3s", "--json"), /^listening to /m);
  io.of("/chat").to(clients.b.id).emit("rows", { tenantId: "acme", rows: [1] });
  io.of("/chat").to(clients.c.id).emit("rows", { rows: [{ tenantId: "acme" }] });
  const listenCode = await withTimeout(listen.exited, "audit --listen to finish", 15_000);
  assert.equal(listenCode, 1, listen.stderr());
  const payloadFindings = JSON.parse(listen.lines.join("\n")).findings;
  assert.deepEqual(payloadFindings, [
    { kind: "payload_leak", namespace: "/chat", socket: clients.c.id, socket_tenant: "globex", event: "rows", payload_tenant: "acme" },
  ]);

  const bad = await run(admin("audit", "--tenant-room", "no-placeholder"));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /needs exactly one \{tenant\}/);
});

test("a wrong password is a one-line error and a non-zero exit; the right one logs in", async () => {
  const bad = await run(["admin", url, "--username", "admin", "--password-file", badPwFile, "--timeout", "8s", "inspect"]);
  assert.notEqual(bad.code, 0);
  assert.equal(bad.stdout, "");
  const lines = bad.stderr.trim().split("\n");
  assert.equal(lines.length, 1, bad.stderr);
  assert.match(lines[0], /refused the admin login: invalid credentials/);
  assert.ok(!bad.stderr.includes("not the password"), "password echoed");

  // No credentials at all: refused by the CLI before connecting.
  const none = await run(["admin", url, "inspect"]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /--username/);

  // A gateway without the admin namespace, and no gateway at all: one line each.
  const plainHttp = createServer();
  const plainIo = new Server(plainHttp);
  try {
    const plainUrl = await listen(plainHttp);
    const plain = await run(["admin", plainUrl, "--no-auth", "--timeout", "8s", "inspect"]);
    assert.equal(plain.code, 2);
    assert.equal(plain.stderr.trim().split("\n").length, 1, plain.stderr);
    assert.match(plain.stderr, /has no \/admin namespace: is the gateway instrumented/);
  } finally {
    plainIo.close();
  }
  const gone = await run(["admin", "http://127.0.0.1:1", "--no-auth", "--timeout", "8s", "inspect"]);
  assert.equal(gone.code, 2);
  assert.equal(gone.stderr.trim().split("\n").length, 1, gone.stderr);
  assert.match(gone.stderr, /cannot reach http:\/\/127\.0\.0\.1:1\/?: .*Connection refused/);

  // Positive control: the same command with the right password succeeds.
  const good = await run(admin("inspect", "--json"));
  assert.equal(good.code, 0, good.stderr);
  assert.ok(JSON.parse(good.stdout).sockets.length >= 3);
});

test("watch shows room_joined, socket_disconnected and relayed events live", async () => {
  const w = await start(admin("watch"), /^watching /m);
  try {
    const late = await client("/chat", "initech");
    io.of("/chat").sockets.get(clients.b.id).join("watched-room");
    clients.a.emit("say", "hello from a");
    const lateId = late.id;
    late.disconnect();
    const has = (re) => w.lines.some((l) => re.test(l));
    await eventually(() => has(new RegExp(`^socket_connected /chat socket=${lateId} `)), "socket_connected line");
    await eventually(() => has(new RegExp(`^room_joined /chat room=watched-room socket=${clients.b.id}$`)), "room_joined line");
    await eventually(() => has(new RegExp(`^socket_disconnected /chat socket=${lateId} reason=client namespace disconnect$`)), "socket_disconnected line");
    await eventually(() => has(/ c2s \/ say \["hello from a"\] socket=/), "relayed event_received line");
    await eventually(() => has(/ s2c \/ said \[\{"text":"hello from a"\}\] socket=/), "relayed event_sent line");
    // Only the socket that joined is reported in the room.
    assert.ok(!has(new RegExp(`room=watched-room socket=${clients.c.id}`)));
  } finally {
    w.child.kill("SIGTERM");
    assert.equal(await withTimeout(w.exited, "watch to exit"), 0, w.stderr());
  }
});

test("join, leave and disconnect change the real server", async () => {
  const chat = io.of("/chat");
  const rooms = (k) => chat.sockets.get(clients[k].id)?.rooms;

  let r = await run(admin("join", "ops", clients.b.id));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /confirmed by the server/);
  assert.ok(rooms("b").has("ops"), "b joined ops");
  assert.ok(!rooms("c").has("ops"), "c was not asked to join ops");

  r = await run(admin("leave", "ops", clients.b.id));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!rooms("b").has("ops"), "b left ops");

  r = await run(admin("join", "everyone", "--all", "--nsp", "/chat"));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(rooms("b").has("everyone") && rooms("c").has("everyone"));
  assert.ok(!io.of("/").sockets.get(clients.a.id).rooms.has("everyone"), "/ is another namespace");

  // emit --to a socket: the addressee gets it, its neighbour does not.
  const got = { b: [], c: [] };
  clients.b.on("notice", (p) => got.b.push(p));
  clients.c.on("notice", (p) => got.c.push(p));
  r = await run(admin("emit", "notice", '{"n":1}', "--to", clients.b.id));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /confirmed by the server/);
  await eventually(() => got.b.length === 1, "b to receive notice");
  assert.deepEqual(got.b[0], { n: 1 });
  r = await run(admin("emit", "notice", '{"n":2}', "--to", clients.c.id));
  assert.equal(r.code, 0, r.stderr);
  await eventually(() => got.c.length === 1, "c to receive its own notice");
  assert.deepEqual(got.c, [{ n: 2 }], "c got only its own notice");
  assert.equal(got.b.length, 1, "b did not get c's notice");

  // emit --to a room: its namespace is found from the room; every member gets it,
  // confirmed by the server's relayed event_sent to each; a socket of / does not.
  const gotA = [];
  clients.a.on("notice", (p) => gotA.push(p));
  r = await run(admin("emit", "notice", '{"n":3}', "--to", "everyone"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /confirmed by the server/);
  await eventually(() => got.b.length === 2 && got.c.length === 2, "b and c to receive the room's notice");
  assert.deepEqual([got.b[1], got.c[1]], [{ n: 3 }, { n: 3 }]);
  assert.deepEqual(gotA, [], "a is in another namespace");

  // Unknown socket: refused with a clear message, nothing sent.
  r = await run(admin("disconnect", "no-such-socket"));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no socket "no-such-socket"/);

  const cGone = once(clients.c, "disconnect", "c to be disconnected");
  r = await run(admin("disconnect", clients.c.id));
  assert.equal(r.code, 0, r.stderr);
  const [reason] = await cGone;
  assert.equal(reason, "io server disconnect");
  assert.equal(chat.sockets.get(clients.c.id), undefined);
  assert.ok(clients.b.connected && chat.sockets.has(clients.b.id), "b is still connected");
});

test("a read-only production server refuses actions with a clear message", async () => {
  // Positive control: it can be inspected (no auth, production mode).
  const ok = await run(["admin", roUrl, "--no-auth", "--timeout", "8s", "inspect", "--json"]);
  assert.equal(ok.code, 0, ok.stderr);
  const snap = JSON.parse(ok.stdout);
  assert.equal(snap.mode, "production");
  assert.deepEqual(snap.features, ["AGGREGATED_EVENTS"]);
  assert.equal(snap.servers.length, 1);

  const r = await run(["admin", roUrl, "--no-auth", "--timeout", "8s", "join", "x", "--all"]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /does not allow join/);
});

test("record stores relayed events of a remote gateway in a session", async () => {
  const db = join(dir, "rec.db");
  const rec = await start(admin("record", "--name", "remote", "--db", db, "--count", "2"), /^recording /m);
  clients.a.emit("say", "recorded");
  const code = await withTimeout(rec.exited, "record to stop after 2 events");
  assert.equal(code, 0, rec.stderr());
  assert.match(rec.stderr(), /2 events written, 0 dropped/);
  const list = await run(["sessions", "list", "--db", db, "--json"]);
  assert.equal(list.code, 0, list.stderr);
  const [session] = JSON.parse(list.stdout);
  const shown = await run(["sessions", "show", String(session.id), "--db", db, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  const events = shown.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => [e.direction, e.event]), [["c2s", "say"], ["s2c", "said"]]);
  assert.equal(events[0].socket_id, clients.a.id);
  assert.equal(events[0].tenant, "acme");
  assert.match(events[0].source, /^admin:127\.0\.0\.1:/);
});

test("production mode: stats only, actions need --nsp and still change the server", async () => {
  const connect = () => {
    const s = connectClient(prodUrl, { forceNew: true, reconnection: false });
    return withTimeout(new Promise((resolve) => s.on("connect", () => resolve(s))), "production client to connect");
  };
  const [p1, p2] = [await connect(), await connect()];
  try {
    const prod = (...args) => ["admin", prodUrl, "--username", "admin", "--password-file", pwFile, "--timeout", "8s", ...args];
    const snap = await run(prod("inspect", "--json"));
    assert.equal(snap.code, 0, snap.stderr);
    const s = JSON.parse(snap.stdout);
    assert.equal(s.mode, "production");
    assert.deepEqual(s.sockets, []);
    assert.equal(s.servers.length, 1);
    assert.ok(s.features.includes("JOIN") && !s.features.includes("ALL_EVENTS"));

    const noNsp = await run(prod("join", "ops", p1.id));
    assert.notEqual(noNsp.code, 0);
    assert.match(noNsp.stderr, /production mode .* pass --nsp/);
    assert.ok(!prodIo.of("/").sockets.get(p1.id).rooms.has("ops"));

    const r = await run(prod("join", "ops", p1.id, "--nsp", "/"));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sent \(not confirmed/);
    await eventually(() => prodIo.of("/").sockets.get(p1.id).rooms.has("ops"), "p1 to join ops");
    assert.ok(!prodIo.of("/").sockets.get(p2.id).rooms.has("ops"), "p2 was not asked to join");
  } finally {
    p1.disconnect();
    p2.disconnect();
  }
});

test("watch reports a server stale after 10 s without stats, and healthy again", async () => {
  const gw = spawn(process.execPath, [new URL("./fixtures/admin-gateway.mjs", import.meta.url).pathname], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const gwUrl = await withTimeout(
    new Promise((resolve) => createInterface({ input: gw.stdout }).once("line", resolve)),
    "the frozen gateway to listen",
  );
  let w;
  try {
    w = await start(["admin", gwUrl, "--no-auth", "--timeout", "8s", "watch"], /^watching /m);
    // Positive control: the stats flow, so nothing is stale yet.
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(!w.lines.some((l) => l.startsWith("server_stale")), w.lines.join("\n"));
    gw.kill("SIGSTOP");
    await eventuallyWithin(() => w.lines.some((l) => /^server_stale server=frozen-gateway /.test(l)), "server_stale line", 16_000);
    gw.kill("SIGCONT");
    await eventuallyWithin(() => w.lines.some((l) => /^server_healthy server=frozen-gateway /.test(l)), "server_healthy line", 8_000);
  } finally {
    gw.kill("SIGCONT");
    gw.kill("SIGTERM");
    if (w) {
      w.child.kill("SIGTERM");
      await withTimeout(w.exited, "watch to exit");
    }
  }
});

/** Polls `check` every 100 ms until it holds; fails after `ms`. */
async function eventuallyWithin(check, what, ms) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
