// Issue 12 in the real window: the Inspector with a remote admin source. A Node
// socket.io 4.8 gateway instrumented with @socket.io/admin-ui 0.5.1 (basic auth,
// development mode, tenants in data.tenantId, one acme socket planted in globex's
// lobby) is added as a saved admin target; the app shows its server, its sockets and
// the tenant leak badge; a disconnect behind a confirmation reaches the Node server,
// and the unrelated sockets stay connected (the positive control). The password
// never lands in the database.
// The fixture is tests/interop's (its npm packages resolve from tests/interop, which
// `cargo xtask test` installs and runs before this directory).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { databaseBytes } from "../common/database_bytes.mjs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";
const PASSWORD = `gui admin pw ${process.pid}`;
const FIXTURE = new URL("../interop/fixtures/admin-gateway.mjs", import.meta.url).pathname;

/** Starts the instrumented gateway; resolves with its URL, clients and the disconnects it saw. */
async function adminGateway(t) {
  const child = spawn(process.execPath, [FIXTURE, "--tenants"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ADMIN_PASSWORD: PASSWORD },
  });
  t.after(() => child.kill("SIGTERM"));
  const gw = { disconnected: [] };
  const lines = createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the admin gateway did not start within 15 s")), 15_000);
    child.once("exit", (code) => reject(new Error(`the admin gateway exited with ${code}`)));
    lines.on("line", (line) => {
      if (line.startsWith("http")) {
        gw.url = line.trim();
        return;
      }
      const msg = JSON.parse(line);
      if (msg.clients) {
        gw.clients = msg.clients;
        clearTimeout(timer);
        resolve();
      }
      if (msg.disconnected) gw.disconnected.push(msg);
    });
  });
  gw.state = async () => (await fetch(`${gw.url}/state`)).json();
  gw.connected = async () => (await gw.state()).connected;
  return gw;
}

test("Inspector: an admin source with servers, sockets, a tenant leak badge and a confirmed disconnect", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const gw = await adminGateway(t);
  const { "acme-1": leaky, "acme-2": bystander, "globex-1": globex } = gw.clients;
  const dir = mkdtempSync(join(tmpdir(), "sockscope-gui-admin-"));
  const db = join(dir, "gui.db");
  const s = await openApp(t, { SOCKSCOPE_DB: db });
  mkdirSync(artifacts, { recursive: true });

  await s.waitFor("#tab-inspector", "the Inspector tab");
  await s.click("#tab-inspector");
  await s.waitFor("#inspector-source", "the source picker");
  // The embedded source is the default: its view and its (empty) leak list.
  await s.waitFor("#embedded-view", "the embedded gateway's view");

  // Add the admin target; the password goes to the keychain. First a wrong one: the
  // server's refusal is one visible line.
  const name = `gui-admin-${process.pid}`;
  const saveTarget = async (password) => {
    await s.click("#admin-target-new");
    await s.waitFor("#admin-target-form", "the admin target form");
    await s.type("#admin-name", name);
    await s.type("#admin-url", gw.url);
    await s.type("#admin-username", "admin");
    await s.type("#admin-password", password);
    await s.click("#admin-target-save");
    await s.until(async () => (await s.text("#inspector-note")) === `saved ${name}`, "the save");
    await s.until(async () => /password in keychain/.test(await s.text(".target-meta")), "the saved target with its keychain mark");
    await s.waitFor("#admin-connect", "the Connect button of the chosen target");
  };
  await saveTarget("not the password");
  await s.click("#admin-connect");
  await s.until(async () => /refused the admin login: invalid credentials$/.test(await s.text("#inspector-note")), "the refused login");
  assert.equal((await s.findAll("#admin-view")).length, 0, "a refused source shows no view");
  await saveTarget(PASSWORD);

  await s.click("#admin-connect");
  await s.waitFor("#admin-view", "the admin source's view");
  // Its server (server_stats every 2 s), healthy.
  await s.waitFor('[data-testid="admin-server"][data-server="gui-gateway"][data-health="healthy"]', "the healthy server in the strip");
  // Every client socket, by tenant.
  for (const id of [leaky, bystander, globex]) {
    await s.waitFor(`[data-testid="admin-socket"][data-socket="${id}"]`, `socket ${id}`);
  }
  assert.equal(await s.attr(`[data-testid="admin-tenant"][data-tenant="acme"] [data-testid="admin-socket"][data-socket="${leaky}"]`, "data-namespace"), "/chat");
  await s.waitFor(`[data-testid="admin-tenant"][data-tenant="globex"] [data-testid="admin-socket"][data-socket="${globex}"]`, "globex's socket under its tenant");

  // The planted membership is a leak badge, naming the leaky socket and the room.
  await s.waitFor(`[data-testid="leak-badge"][data-kind="foreign_room"][data-socket="${leaky}"][data-room="tenant:globex:lobby"]`, "the foreign-room badge");
  await s.waitFor('[data-testid="leak-badge"][data-kind="shared_room"][data-room="tenant:globex:lobby"]', "the shared-room badge");
  await s.waitFor(`[data-testid="admin-socket"][data-socket="${leaky}"] [data-testid="socket-leak"]`, "the leak mark on the leaky socket's row");
  // Positive control for the badges: the well-behaved sockets carry none.
  assert.equal((await s.findAll(`[data-testid="admin-socket"][data-socket="${bystander}"] [data-testid="socket-leak"]`)).length, 0);
  assert.equal((await s.findAll(`[data-testid="leak-badge"][data-socket="${bystander}"]`)).length, 0);
  writeFileSync(join(artifacts, "inspector-admin.png"), await s.screenshot());

  assert.equal((await gw.state()).admins, 1, "one admin session while connected");
  // Disconnect asks first; cancelling sends nothing.
  await s.click(`[data-testid="admin-socket"][data-socket="${leaky}"] [data-testid="socket-disconnect"]`);
  await s.waitFor("#admin-confirm", "the confirmation");
  assert.match(await s.text("#admin-confirm-text"), new RegExp(`Disconnect socket ${leaky} of /chat\\?`));
  await s.click("#admin-confirm-no");
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(gw.disconnected, [], "a cancelled disconnect reached the server");
  assert.ok((await gw.connected()).includes(leaky));

  // Confirmed: the Node server sees the disconnect, the app confirms it.
  await s.click(`[data-testid="admin-socket"][data-socket="${leaky}"] [data-testid="socket-disconnect"]`);
  await s.waitFor("#admin-confirm", "the confirmation");
  await s.click("#admin-confirm-yes");
  await s.until(async () => /disconnect .*confirmed by the server/.test(await s.text("#admin-action-result")), "the confirmed disconnect");
  await s.until(async () => gw.disconnected.some((d) => d.disconnected === leaky), "the Node server to see the disconnect");
  assert.equal(gw.disconnected.find((d) => d.disconnected === leaky).reason, "server namespace disconnect");
  // Positive control: only that socket went; the others are still connected.
  const still = await gw.connected();
  assert.ok(!still.includes(leaky), "the disconnected socket is still on the server");
  assert.ok(still.includes(bystander) && still.includes(globex), `an unrelated socket was dropped: ${still}`);
  assert.equal(gw.disconnected.length, 1, JSON.stringify(gw.disconnected));
  // The view follows: the row and its leaks are gone.
  await s.until(async () => (await s.findAll(`[data-testid="admin-socket"][data-socket="${leaky}"]`)).length === 0, "the row to go");
  await s.until(async () => (await s.findAll('[data-testid="leak-badge"]')).length === 0, "the leak badges to clear");
  await s.waitFor(`[data-testid="admin-socket"][data-socket="${bystander}"]`, "the bystander's row");

  // Emit (confirmed) to globex's socket with a payload naming acme: the relayed
  // event_sent is a cross-tenant payload badge on that socket, and only that one.
  await s.click(`[data-testid="admin-socket"][data-socket="${globex}"] [data-testid="socket-emit"]`);
  await s.waitFor("#confirm-event", "the emit form in the confirmation");
  await s.type("#confirm-event", "notice");
  await s.type("#confirm-args", '{"tenantId":"acme","text":"hello"}');
  await s.click("#admin-confirm-yes");
  await s.until(async () => /emit notice to .*confirmed by the server/.test(await s.text("#admin-action-result")), "the confirmed emit");
  await s.waitFor(`[data-testid="leak-badge"][data-kind="payload_leak"][data-socket="${globex}"]`, "the cross-tenant payload badge");
  assert.equal((await s.findAll(`[data-testid="leak-badge"][data-socket="${bystander}"]`)).length, 0);

  await s.click("#admin-disconnect");
  await s.waitFor("#admin-idle", "the disconnected source");
  // Disconnect ends the admin session on the server (its namespace is empty again).
  await s.until(async () => (await gw.state()).admins === 0, "the admin session to end on the server");

  await s.close();
  // The password is in the keychain only: no byte of it in the database.
  const bytes = databaseBytes(db, [name, gw.url]);
  assert.ok(!bytes.includes(PASSWORD), `the password is in ${db}`);
});
