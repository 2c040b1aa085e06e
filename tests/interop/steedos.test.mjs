// Seed 004 (Steedos AppGateway), the documented client code against
// `sockscope serve --profile steedos`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { once, serve } from "./harness.mjs";

function client(url, space, token) {
  const extraHeaders = {};
  if (space) extraHeaders["X-Space-Id"] = space;
  if (token) extraHeaders["X-Auth-Token"] = token;
  // Headers need the polling transport in Node (the seed's server reads handshake headers).
  return io(url, { path: "/socket.io/", extraHeaders, transports: ["polling"], reconnection: false });
}

const post = async (url, body) => {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return r.json();
};

test("steedos: rooms from roomParts, per-user notifications, record changes, metadata, ping", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "steedos"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const ann = client(srv.url, "space1", "ann-token");
  const bob = client(srv.url, "space2", "bob-token");
  const anon = client(srv.url, "space1", null);
  t.after(() => { ann.close(); bob.close(); anon.close(); });
  await Promise.all([once(ann, "connect"), once(bob, "connect"), once(anon, "connect")]);

  const sub = await ann.emitWithAck("subscribe", { roomParts: ["orders", "notifications"], individual: false });
  assert.deepEqual(sub.rooms, ["space1-orders", "space1-notifications"]);
  const ind = await ann.emitWithAck("subscribe", { roomParts: "notification-change", individual: true });
  assert.equal(ind.ok, true);
  assert.match(ind.rooms[0], /^space1-notification-change@user-[0-9a-f]+$/);
  const annUser = ind.rooms[0].slice("space1-notification-change@".length);
  assert.ok(!ind.rooms[0].includes("ann-token"), "the token leaked into a room name");
  await bob.emitWithAck("subscribe", { roomParts: "orders", individual: false });
  const anonInd = await anon.emitWithAck("subscribe", { roomParts: "notification-change", individual: true });
  assert.equal(anonInd.ok, false);

  // s:notification-change to the user's rooms, through the broker-style HTTP API.
  const bobNotes = [];
  bob.on("s:notification-change", (d) => bobNotes.push(d));
  const note = once(ann, "s:notification-change");
  assert.deepEqual(await post(`${srv.url}/notification.users`, { tenantId: "space1", users: [annUser], message: "You have a new task" }), { delivered: 1 });
  assert.deepEqual((await note)[0], { message: "You have a new task" });

  // Record change room.
  const recordId = "r42";
  await ann.emitWithAck("subscribe", { roomParts: `record:orders:change-${recordId}`, individual: false });
  const rec = once(ann, `s:record:orders:change-${recordId}`);
  assert.deepEqual(await post(`${srv.url}/record.change`, { tenantId: "space1", objectName: "orders", recordId }), { delivered: 1 });
  assert.deepEqual((await rec)[0], { _id: recordId });

  // Metadata change to everyone.
  const meta = { type: "objects", action: "update", _id: "o1", name: "orders", objectName: "orders" };
  const m1 = once(ann, "s:metadata:change");
  const m2 = once(bob, "s:metadata:change");
  await post(`${srv.url}/metadata.change`, meta);
  assert.deepEqual((await m1)[0], meta);
  assert.deepEqual((await m2)[0], meta);

  // socket.emit with and without a room: the room is space1's only.
  const bobCustom = [];
  bob.on("custom-event", (d) => bobCustom.push(d));
  const custom = once(ann, "custom-event");
  assert.deepEqual(await post(`${srv.url}/socket.emit`, { eventName: "custom-event", eventParams: { key: "value" }, room: "space1-orders" }), { delivered: 1 });
  assert.deepEqual((await custom)[0], { key: "value" });

  // Keep-alive.
  const pong = once(ann, "pong");
  const dateReply = await ann.emitWithAck("ping", new Date().toISOString());
  assert.ok(!Number.isNaN(Date.parse(dateReply)), dateReply);
  assert.match((await pong)[0], /GMT$/);

  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(bobNotes, []);
  assert.deepEqual(bobCustom, []);
});

test("steedos: a space id that could forge another tenant's room prefix is refused", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "steedos"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const s = client(srv.url, "space1-orders", "t");
  const [err] = await once(s, "connect_error");
  s.close();
  assert.match(err.message, /invalid tenant/);
});
