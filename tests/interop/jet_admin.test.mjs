// Seed 000 (Jet Admin), the documented client code against `sockscope serve --profile jet-admin`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { hs256, once, serve, withTimeout } from "./harness.mjs";

function collect(socket, event) {
  const got = [];
  socket.on(event, (d) => got.push(d));
  return got;
}

async function until(check, what) {
  return withTimeout(
    (async () => {
      for (;;) {
        if (check()) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    })(),
    what,
  );
}

test("jet-admin: workflow logs, widgets and AI chat as the seed documents them", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jet-admin", "--tick-ms", "20"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const token = hs256("firebase-project-key", { sub: "firebase-user", tenantId: "tenant-uuid" });
  const socket = io(srv.url, { auth: { token, firebase_id: "user-firebase-uid" }, transports: ["websocket"] });
  t.after(() => socket.close());
  await once(socket, "connect");

  // 1. Workflow events.
  const nodes = collect(socket, "workflow_node_update");
  const status = once(socket, "workflow_status_update");
  socket.emit("workflow_run_join", { runId: "run-uuid-123" });
  const [final] = await status;
  assert.deepEqual(final, { runId: "run-uuid-123", status: "completed" });
  assert.ok(nodes.length >= 2, `node updates: ${nodes.length}`);
  for (const n of nodes) {
    assert.ok("nodeId" in n && "status" in n && "duration" in n && "output" in n, JSON.stringify(n));
  }
  assert.ok(nodes.some((n) => n.status === "completed"));

  const failed = once(socket, "workflow_status_update");
  socket.emit("workflow_run_join", { runId: "run-fail-7" });
  const [f] = await failed;
  assert.equal(f.status, "failed");
  assert.equal(typeof f.error, "string");

  // 2. Widget events.
  const connected = once(socket, "widget_workflow_connected");
  const context = once(socket, "widget_context_update");
  const statuses = collect(socket, "widget_workflow_status");
  socket.emit("widget_workflow_connect", {
    widgetID: "widget-uuid",
    workflowID: "workflow-uuid",
    mode: "execute",
    inputParams: { dateRange: "7d" },
    tenantID: "tenant-uuid",
  });
  assert.deepEqual((await connected)[0], { widgetID: "widget-uuid" });
  const [ctx] = await context;
  assert.equal(ctx.widgetID, "widget-uuid");
  assert.ok(ctx.data && ctx.metadata);
  await until(() => statuses.some((s) => s.status === "completed"), "widget status completed");

  const input = once(socket, "widget_context_update");
  socket.emit("widget_send_input", { widgetID: "widget-uuid", instanceID: "i1", inputType: "form", data: { name: "x" } });
  assert.deepEqual((await input)[0].data.input, { name: "x" });

  const refreshed = once(socket, "widget_context_update");
  socket.emit("widget_refresh", { widgetID: "widget-uuid", inputParams: { dateRange: "30d" }, tenantID: "tenant-uuid" });
  assert.deepEqual((await refreshed)[0].data.inputParams, { dateRange: "30d" });

  const missing = once(socket, "widget_workflow_error");
  socket.emit("widget_workflow_connect", { widgetID: "w2", workflowID: "missing-flow", mode: "execute", inputParams: {}, tenantID: "tenant-uuid" });
  const [err] = await missing;
  assert.equal(err.widgetID, "w2");
  assert.match(err.error, /missing-flow/);

  const otherTenant = once(socket, "widget_workflow_error");
  socket.emit("widget_workflow_connect", { widgetID: "w3", workflowID: "workflow-uuid", mode: "execute", inputParams: {}, tenantID: "someone-else" });
  assert.match((await otherTenant)[0].error, /tenant/);

  const gone = collect(socket, "widget_workflow_status");
  socket.emit("widget_workflow_disconnect", { widgetID: "widget-uuid" });
  await until(() => gone.some((s) => s.status === "disconnected"), "disconnected status");

  // 3. AI chat.
  const joined = once(socket, "ai_chat_room_join");
  const bot = once(socket, "ai_chat_bot_message");
  socket.emit("ai_chat_user_message", { message: "How many runs failed?", chatRoomID: "room-1" });
  assert.deepEqual((await joined)[0], { chatRoomID: "room-1" });
  const [reply] = await bot;
  assert.equal(reply.chatRoomID, "room-1");
  assert.match(reply.message, /How many runs failed\?/);
});

test("jet-admin: another tenant's socket joining the same runId sees nothing of it", async (t) => {
  // Each run plays once, to everyone in its (tenant-scoped) room. acme starts run
  // "shared-run"; once two of its node updates have gone out, globex joins the very
  // same runId and an acme colleague joins it too. The colleague (positive control)
  // gets the rest of acme's run, not a fresh one. globex gets a run of its own from its
  // first node, and nothing of acme's: had the room not been tenant-scoped, globex
  // would have landed in acme's room, mid-run, with no run of its own.
  const srv = await serve(["--port", "0", "--profile", "jet-admin", "--tick-ms", "60"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const mk = (tenantId, who = "user") =>
    io(srv.url, { auth: { token: hs256("k", { sub: `${tenantId}-${who}`, tenantId }), firebase_id: `${tenantId}-${who}-uid` }, transports: ["websocket"], forceNew: true });
  const a = mk("acme");
  const mate = mk("acme", "mate");
  const b = mk("globex");
  t.after(() => { a.close(); mate.close(); b.close(); });
  await Promise.all([once(a, "connect"), once(mate, "connect"), once(b, "connect")]);
  const aNodes = collect(a, "workflow_node_update");
  const mateNodes = collect(mate, "workflow_node_update");
  const bNodes = collect(b, "workflow_node_update");
  const bStatus = collect(b, "workflow_status_update");
  const mateStatus = collect(mate, "workflow_status_update");

  a.emit("workflow_run_join", { runId: "shared-run" });
  await until(() => aNodes.length >= 2, "acme's run to be two node updates in");
  b.emit("workflow_run_join", { runId: "shared-run" });
  mate.emit("workflow_run_join", { runId: "shared-run" });
  await Promise.all([
    once(a, "workflow_status_update", "acme's run to end"),
    until(() => bStatus.length === 1, "globex's own run to end"),
    until(() => mateStatus.length === 1, "the acme colleague to see acme's run end"),
  ]);
  // Let anything late arrive before counting.
  await new Promise((r) => setTimeout(r, 300));

  const full = ["trigger", "trigger", "fetch_data", "fetch_data", "transform", "transform", "output", "output"];
  assert.deepEqual(aNodes.map((n) => n.nodeId), full, "acme's own run");
  // globex: exactly one whole run, its own, from the first node.
  assert.deepEqual(bNodes.map((n) => n.nodeId), full, "globex saw something other than one run of its own");
  assert.equal(bStatus.length, 1, "globex saw another run's final status");
  // Positive control: the same-tenant socket joined acme's room and got the rest of
  // acme's run (at least its last node, not its first).
  assert.ok(mateNodes.length > 0, "the acme colleague got none of acme's run");
  assert.ok(mateNodes.length < full.length, `the acme colleague got a run of its own (${mateNodes.length} updates)`);
  assert.equal(mateNodes.at(-1).nodeId, "output");
  const first = mateNodes[0];
  assert.ok(!(first.nodeId === "trigger" && first.status === "running"), "the acme colleague's updates start a fresh run");
});

test("jet-admin: a handshake without a token is refused", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jet-admin"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const s = io(srv.url, { auth: { firebase_id: "x" }, transports: ["websocket"], reconnection: false });
  const [err] = await once(s, "connect_error");
  s.close();
  assert.match(err.message, /missing token/);
});
