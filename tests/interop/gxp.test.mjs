// Seed 002 (GxP toolkit socket server) against `sockscope serve --profile gxp`:
// the store's listenSocket shape, templates, --identifier, channel scoping, CORS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io } from "socket.io-client";
import { once, run, serve } from "./harness.mjs";

test("gxp: templates reach listeners; --identifier rewrites the channel; channels scope delivery", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "gxp"]);
  t.after(() => srv.child.kill("SIGKILL"));
  // A plugin's primary socket only listens (store.listenSocket('primary', Event, cb)).
  const primary = io(srv.url, { transports: ["websocket"] });
  // A kiosk subscribed to its own channel only.
  const kiosk2 = io(srv.url, { transports: ["websocket"] });
  const lobby = io(srv.url, { transports: ["websocket"] });
  t.after(() => { primary.close(); kiosk2.close(); lobby.close(); });
  await Promise.all([once(primary, "connect"), once(kiosk2, "connect"), once(lobby, "connect")]);
  assert.equal((await kiosk2.emitWithAck("subscribe", { channel: "private.CheckIn.kiosk_2" })).ok, true);
  assert.equal((await lobby.emitWithAck("subscribe", { channel: "private.CheckIn.checkin_kiosk_lobby" })).ok, true);

  const lobbyGot = [];
  lobby.on("AttendeeCheckedIn", (d) => lobbyGot.push(d));
  const p = once(primary, "AttendeeCheckedIn");
  const k = once(kiosk2, "AttendeeCheckedIn");
  const sent = await run(["templates", "send", "--event", "AttendeeCheckedIn", "--identifier", "kiosk_2", "--url", srv.url, "--json"]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.deepEqual(JSON.parse(sent.stdout), { event: "AttendeeCheckedIn", channel: "private.CheckIn.kiosk_2", delivered: 2 });
  const [data] = await p;
  assert.equal(data.badge_number, "A-0042");
  assert.deepEqual((await k)[0], data);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(lobbyGot, [], "a socket on another channel got the event");

  // The plugin's own emits are recorded and acked.
  const ack = await primary.emitWithAck("user-action", { action: "button_click", button_id: "checkin-submit" });
  assert.equal(ack.ok, true);

  // HTTP template endpoint and CORS for the dev server.
  const r = await fetch(`${srv.url}/templates`, { headers: { origin: "http://localhost:3060" } });
  assert.equal(r.headers.get("access-control-allow-origin"), "http://localhost:3060");
  const set = await r.json();
  assert.ok(set.templates.some((t) => t.event === "AiSessionMessageCreated"));
  const ai = once(primary, "AiSessionMessageCreated");
  const viaHttp = await fetch(`${srv.url}/templates/send`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ event: "AiSessionMessageCreated" }),
  });
  assert.equal((await viaHttp.json()).channel, "private.AiInterface.ai_interface_background_remover");
  assert.equal((await ai)[0].ai_session_id, 567);
});

test("templates list names a malformed file and its line, and still lists the rest", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-tpl-"));
  writeFileSync(join(dir, "Good.json"), JSON.stringify({ event: "Good", channel: "private.A.b", data: { x: 1 } }));
  writeFileSync(join(dir, "Broken.json"), '{\n  "event": "Broken",\n  "channel": nope\n}\n');
  const out = await run(["templates", "list", "--dir", dir]);
  assert.equal(out.code, 0);
  assert.match(out.stdout, /Good/);
  assert.match(out.stderr, /Broken\.json:3:/);
  const json = await run(["templates", "list", "--dir", dir, "--json"]);
  const set = JSON.parse(json.stdout);
  assert.equal(set.templates.length, 1);
  assert.equal(set.problems[0].line, 3);
});

test("gxp: SOCKET_IO_PORT picks the port", async (t) => {
  const { createServer } = await import("node:net");
  const probe = createServer();
  await new Promise((r) => probe.listen(0, "127.0.0.1", r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  process.env.SOCKET_IO_PORT = String(port);
  try {
    const srv = await serve(["--profile", "gxp"]);
    t.after(() => srv.child.kill("SIGKILL"));
    assert.equal(srv.url, `http://127.0.0.1:${port}`);
  } finally {
    delete process.env.SOCKET_IO_PORT;
  }
});
