// Issue 4 in the real window: choose the gxp profile, start, a Node client listens
// the way a GxP plugin does, send a template from the Templates panel with an edited
// payload and an identifier, then see the event in the live list and the socket in
// the Inspector.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { io } from "socket.io-client";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";

test("gxp profile: send a template from the Templates panel, see it live and in the Inspector", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const s = await openApp(t);
  mkdirSync(artifacts, { recursive: true });

  await s.waitFor("#gateway-profile", "the profile choice");
  await s.click('#gateway-profile option[value="gxp"]');
  await s.type("#gateway-port", "0");
  await s.click("#gateway-start");
  await s.until(async () => (await s.text("#gateway-state")) === "running", "the gateway to run");
  const addr = await s.text("#gateway-addr");

  const plugin = io(addr, { transports: ["websocket"], reconnection: false, forceNew: true });
  t.after(() => plugin.close());
  await new Promise((resolve, reject) => {
    plugin.once("connect", resolve);
    plugin.once("connect_error", reject);
  });
  await plugin.emitWithAck("subscribe", { channel: "private.CheckIn.kiosk_7" });
  const received = new Promise((resolve) => plugin.once("AttendeeCheckedIn", resolve));

  await s.click("#tab-templates");
  await s.waitFor('[data-testid="template-item"][data-event="AttendeeCheckedIn"]', "the AttendeeCheckedIn template");
  await s.click('[data-testid="template-item"][data-event="AttendeeCheckedIn"]');
  await s.waitFor("#template-data", "the payload editor");
  assert.equal(await s.text("#template-channel"), "private.CheckIn.checkin_kiosk_lobby");

  // A bad payload is a visible one-line error and sends nothing.
  await s.type("#template-data", "{ not json");
  await s.click("#template-send");
  await s.until(async () => /bad JSON template/.test(await s.text("#template-result")), "the bad JSON message");

  await s.type("#template-data", JSON.stringify({ attendee_name: "Grace Hopper", badge_number: "B-0007" }));
  await s.type("#template-identifier", "kiosk_7");
  await s.click("#template-send");
  await s.until(
    async () => /sent AttendeeCheckedIn on private\.CheckIn\.kiosk_7 to 1 sockets/.test(await s.text("#template-result")),
    "the send confirmation",
  );
  const data = await Promise.race([received, new Promise((_, rej) => setTimeout(() => rej(new Error("plugin got nothing")), 5000))]);
  assert.deepEqual(data, { attendee_name: "Grace Hopper", badge_number: "B-0007" });
  writeFileSync(join(artifacts, "templates-panel.png"), await s.screenshot());

  await s.click("#tab-live");
  await s.waitFor('[data-testid="event-row"][data-event="AttendeeCheckedIn"]', "the template event in the live list");

  await s.click("#tab-inspector");
  await s.waitFor(`[data-testid="inspect-socket"][data-socket="${plugin.id}"]`, "the plugin's socket in the Inspector");
  await s.waitFor('[data-testid="inspect-room"][data-room="public:channel:private.CheckIn.kiosk_7"]', "the kiosk_7 channel room");
  const row = await s.text(`[data-testid="inspect-socket"][data-socket="${plugin.id}"]`);
  assert.match(row, /websocket/);
  writeFileSync(join(artifacts, "inspector.png"), await s.screenshot());
});
