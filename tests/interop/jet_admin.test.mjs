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
  const srv = await serve(["--port", "0", "--profile", "jet-admin", "--tick-ms", "20"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const mk = (tenantId) =>
    io(srv.url, { auth: { token: hs256("k", { sub: tenantId + "-user", tenantId }), firebase_id: tenantId + "-uid" }, transports: ["websocket"] });
  const a = mk("acme");
  const b = mk("globex");
  t.after(() => { a.close(); b.close(); });
  await Promise.all([once(a, "connect"), once(b, "connect")]);
  const bNodes = collect(b, "workflow_node_update");
  a.emit("workflow_run_join", { runId: "shared-run" });
  await once(a, "workflow_status_update");
  assert.deepEqual(bNodes, []);
});

test("jet-admin: a handshake without a token is refused", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jet-admin"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const s = io(srv.url, { auth: { firebase_id: "x" }, transports: ["websocket"], reconnection: false });
  const [err] = await once(s, "connect_error");
  s.close();
  assert.match(err.message, /missing token/);
});
