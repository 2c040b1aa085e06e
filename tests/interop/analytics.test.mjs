// Seed 001 (analytics dashboards), the documented client code against
// `sockscope serve --profile analytics`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { apiPost, hs256, once, serve, withTimeout } from "./harness.mjs";

const SECRET = "analytics-secret";

test("analytics: subscribe -> dashboard:initial, metric:update ticks, unsubscribe, errors, tenants", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "analytics", "--jwt-secret", SECRET, "--tick-ms", "40"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const token = hs256(SECRET, { sub: "ann", tenantId: "acme" });

  // The seed's "Full Example", verbatim in shape.
  const socket = io(`${srv.url}/dashboard`, {
    auth: { token },
    transports: ["websocket"],
    reconnection: true,
    reconnectionAttempts: 5,
    reconnectionDelay: 1000,
  });
  t.after(() => socket.close());
  const initial = once(socket, "dashboard:initial");
  const firstTick = once(socket, "metric:update");
  socket.on("connect", () => {
    socket.emit("subscribe", { entityId: "event-uuid-123", entityType: "event" });
  });
  const [data] = await initial;
  assert.equal(data.entityId, "event-uuid-123");
  assert.equal(data.entityType, "event");
  assert.equal(typeof data.metrics, "object");
  assert.ok(Array.isArray(data.tiles) && data.tiles.length > 0);
  const [tick] = await firstTick;
  assert.equal(tick.entityId, "event-uuid-123");
  assert.ok(Object.keys(data.metrics).includes(tick.metricName), tick.metricName);
  assert.equal(typeof tick.value, "number");
  assert.ok(!Number.isNaN(Date.parse(tick.timestamp)), tick.timestamp);

  // Another tenant: cannot take acme's entity, and never sees its ticks.
  const other = io(`${srv.url}/dashboard`, { auth: { token: hs256(SECRET, { sub: "bob", tenantId: "globex" }) }, transports: ["websocket"] });
  t.after(() => other.close());
  await once(other, "connect");
  const otherTicks = [];
  other.on("metric:update", (d) => otherTicks.push(d));
  const denied = once(other, "error", "ANALYTICS_1100 for another tenant's entity");
  other.emit("subscribe", { entityId: "event-uuid-123", entityType: "event" });
  const [err] = await denied;
  assert.equal(err.code, "ANALYTICS_1100");
  assert.match(err.message, /event-uuid-123/);
  const invalid = once(other, "error", "ANALYTICS_1100 for an invalid entity");
  other.emit("subscribe", { entityType: "event" });
  assert.equal((await invalid)[0].code, "ANALYTICS_1100");
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(otherTicks, []);

  // unsubscribe stops the ticks.
  socket.emit("unsubscribe", { entityId: "event-uuid-123" });
  await new Promise((r) => setTimeout(r, 150));
  let after = 0;
  socket.on("metric:update", () => after++);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(after, 0, "metric:update kept coming after unsubscribe");
});

test("analytics: dashboard:update reaches the tenant on /analytics/dashboard only", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "analytics", "--jwt-secret", SECRET]);
  t.after(() => srv.child.kill("SIGKILL"));
  const a = io(`${srv.url}/analytics/dashboard`, { auth: { token: hs256(SECRET, { sub: "ann", tenantId: "acme" }) }, transports: ["websocket"] });
  const b = io(`${srv.url}/analytics/dashboard`, { auth: { token: hs256(SECRET, { sub: "bob", tenantId: "globex" }) }, transports: ["websocket"] });
  t.after(() => { a.close(); b.close(); });
  await Promise.all([once(a, "connect"), once(b, "connect")]);
  const bGot = [];
  b.on("dashboard:update", (d) => bGot.push(d));
  const got = once(a, "dashboard:update");
  const r = await apiPost(srv, "/analytics/dashboard-update", { tenantId: "acme", dashboardId: "d1", action: "tile_added", tile: { id: "t9", type: "kpi" } });
  assert.deepEqual(await r.json(), { delivered: 1 });
  const [update] = await got;
  assert.deepEqual(update, { dashboardId: "d1", action: "tile_added", tile: { id: "t9", type: "kpi" } });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(bGot, []);
});

test("analytics: a bad or tenant-less token gets connect_error with a message", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "analytics", "--jwt-secret", SECRET]);
  t.after(() => srv.child.kill("SIGKILL"));
  const cases = [
    [{ token: hs256("wrong", { tenantId: "acme" }) }, /bad signature/],
    [{ token: hs256(SECRET, { sub: "x" }) }, /tenantId/],
    [{}, /missing token/],
  ];
  for (const [auth, reason] of cases) {
    const socket = io(`${srv.url}/dashboard`, { auth, transports: ["websocket"], reconnection: false });
    const [err] = await withTimeout(new Promise((r) => socket.on("connect_error", (e) => r([e]))), `connect_error ${reason}`);
    socket.close();
    assert.match(err.message, reason);
  }
});
