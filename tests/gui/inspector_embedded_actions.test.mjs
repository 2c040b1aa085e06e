// Issue 12, point 4, for the embedded source: the Inspector acts on the gateway
// Sockscope hosts, behind the same confirmation as an admin source. Two Node
// socket.io-client sockets connect to the gateway started from the Server panel; a
// cancelled disconnect sends nothing; a confirmed one reaches only its socket (the
// other stays connected: the positive control); a join shows the room; an emit to
// the remaining socket arrives; each action is a record in the live list.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { io } from "socket.io-client";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";

/** A websocket client that keeps what happened to it. */
async function client(t, addr) {
  const c = io(addr, { transports: ["websocket"], reconnection: false, forceNew: true });
  t.after(() => c.close());
  const seen = { disconnects: [], notices: [] };
  c.on("disconnect", (reason) => seen.disconnects.push(reason));
  c.on("notice", (data) => seen.notices.push(data));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no connect within 10 s")), 10_000);
    c.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    c.once("connect_error", reject);
  });
  return { c, id: c.id, seen };
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(cond, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await pause(50);
  }
}

test("Inspector: confirmed actions on the embedded gateway reach the right socket only", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const s = await openApp(t);
  mkdirSync(artifacts, { recursive: true });

  await s.waitFor("#gateway-start", "the Server panel");
  await s.type("#gateway-port", "0");
  await s.click("#gateway-start");
  await s.until(async () => (await s.text("#gateway-state")) === "running", "the gateway to run");
  const addr = await s.text("#gateway-addr");

  const doomed = await client(t, addr);
  const keeper = await client(t, addr);
  const row = (id) => `[data-testid="inspect-socket"][data-socket="${id}"]`;

  await s.click("#tab-inspector");
  await s.waitFor("#embedded-view", "the embedded gateway's view");
  await s.waitFor(row(doomed.id), "the first socket's row");
  await s.waitFor(row(keeper.id), "the second socket's row");

  // Cancelled: nothing is sent.
  await s.click(`${row(doomed.id)} [data-testid="socket-disconnect"]`);
  await s.waitFor("#admin-confirm", "the confirmation");
  assert.match(await s.text("#admin-confirm-text"), new RegExp(`Disconnect socket ${doomed.id} of /\\?`));
  await s.click("#admin-confirm-no");
  await s.until(async () => (await s.findAll("#admin-confirm")).length === 0, "the confirmation to close");
  await pause(700);
  assert.deepEqual(doomed.seen.disconnects, [], "a cancelled disconnect reached the socket");
  assert.ok(doomed.c.connected);

  // Confirmed: that socket, and only that one, is disconnected by the server.
  await s.click(`${row(doomed.id)} [data-testid="socket-disconnect"]`);
  await s.waitFor("#admin-confirm", "the confirmation");
  await s.click("#admin-confirm-yes");
  await s.until(async () => /^disconnect .* done on the embedded gateway$/.test(await s.text("#admin-action-result")), "the disconnect result");
  await until(() => doomed.seen.disconnects.length > 0, "the Node socket's disconnect");
  assert.deepEqual(doomed.seen.disconnects, ["io server disconnect"]);
  await pause(300);
  assert.ok(keeper.c.connected, "the other socket was dropped too");
  assert.deepEqual(keeper.seen.disconnects, []);
  await s.until(async () => (await s.findAll(row(doomed.id))).length === 0, "the row to go");

  // Join (the room is asked for in the confirmation): the room appears.
  await s.click(`${row(keeper.id)} [data-testid="socket-join"]`);
  await s.waitFor("#confirm-room", "the room field");
  await s.type("#confirm-room", "vip");
  await s.click("#admin-confirm-yes");
  await s.until(async () => /^join vip /.test(await s.text("#admin-action-result")), "the join result");
  await s.waitFor('[data-testid="inspect-room"][data-room="vip"]', "the vip room");

  // Emit to the remaining socket: it receives the event and its argument.
  await s.click(`${row(keeper.id)} [data-testid="socket-emit"]`);
  await s.waitFor("#confirm-event", "the emit form");
  await s.type("#confirm-event", "notice");
  await s.type("#confirm-args", '{"text":"from the inspector"}');
  await s.click("#admin-confirm-yes");
  await s.until(async () => /^emit notice to .*: addressed to 1 socket/.test(await s.text("#admin-action-result")), "the emit result");
  await until(() => keeper.seen.notices.length > 0, "the notice at the Node socket");
  assert.deepEqual(keeper.seen.notices, [{ text: "from the inspector" }]);
  assert.deepEqual(doomed.seen.notices, []);
  writeFileSync(join(artifacts, "inspector-embedded-actions.png"), await s.screenshot());

  // Each action is on the bus: the live list shows them.
  await s.click("#tab-live");
  for (const event of ["_disconnect", "join", "notice"]) {
    await s.waitFor(`[data-testid="event-row"][data-event="${event}"]`, `the ${event} record in the live list`);
  }
});
