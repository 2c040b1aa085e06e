// Seed 003 (Jac Cloud plain WebSocket) against `sockscope serve --profile jac`, with
// the npm `ws` library the seed shows.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { hs256, serve, withTimeout } from "./harness.mjs";

function open(url, opts) {
  const ws = new WebSocket(url, opts);
  const inbox = [];
  const waiters = [];
  ws.on("message", (raw) => {
    const msg = JSON.parse(raw.toString());
    const i = waiters.findIndex((w) => w.pred(msg));
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg);
    else inbox.push(msg);
  });
  const next = (pred, what) => {
    const i = inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
    return withTimeout(new Promise((resolve) => waiters.push({ pred, resolve })), what);
  };
  return { ws, inbox, next };
}

test("jac: connection info, walker response, user/channel/client notifications, change_user", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jac"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const base = srv.url.replace("http", "ws") + "/websocket";
  const token = hs256("jac", { sub: "672b35cec309e5ef8469c372" });

  const a = open(base, { headers: { Authorization: `Bearer ${token}` } });
  const b = open(`${base}?channel_id=anystring`);
  t.after(() => { a.ws.close(); b.ws.close(); });
  const ia = (await a.next((m) => m.type === "connection", "a's connection info")).data;
  const ib = (await b.next((m) => m.type === "connection", "b's connection info")).data;
  assert.equal(ia.root_id, "n::672b35cec309e5ef8469c372");
  assert.match(ia.client_id, /^\d+:[0-9a-f]{32}$/);
  assert.equal(ib.root_id, "n::000000000000000000000001");
  assert.equal(ib.channel_id, "anystring");

  a.ws.send(JSON.stringify({ type: "walker", walker: "your_event_name", response: true, context: { val: 1 } }));
  const w = await a.next((m) => m.type === "walker", "walker response");
  assert.equal(w.walker, "your_event_name");
  assert.equal(w.response.status, 200);

  const chat = { type: "chat", data: { any_field: "any_value" } };
  a.ws.send(JSON.stringify({ type: "channel", channel_ids: ["anystring"], data: chat }));
  assert.deepEqual(await b.next((m) => m.type === "chat", "channel chat"), chat);
  b.ws.send(JSON.stringify({ type: "client", client_ids: [ia.client_id], data: chat }));
  assert.deepEqual(await a.next((m) => m.type === "chat", "client chat"), chat);
  b.ws.send(JSON.stringify({ type: "user", root_ids: [ia.root_id], data: { type: "dm", data: { hi: 1 } } }));
  assert.deepEqual(await a.next((m) => m.type === "dm", "user dm"), { type: "dm", data: { hi: 1 } });
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(!b.inbox.some((m) => m.type === "dm"), "b got a dm addressed to a's root");

  // The browser flow: authenticate after connecting.
  b.ws.send(JSON.stringify({ type: "change_user", token: `Bearer ${token}` }));
  const changed = await b.next((m) => m.type === "connection", "connection info after change_user");
  assert.equal(changed.data.root_id, ia.root_id);
  assert.equal(changed.data.client_id, ib.client_id);

  // Output never carries the token.
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!srv.lines.join("\n").includes(token), "token leaked into the event stream");
});
