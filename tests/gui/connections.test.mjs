// Issue 5 in the real window: connect to a Node socket.io 4.8 gateway (HS256 JWT on
// /dashboard) from the Connections panel, see its events in the live log, emit with an
// ack from the composer, record, and open the recording. Also: a bad token is a
// visible one-line error, the saved target keeps its token in the keychain only, and
// the SQLite file never holds the token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { databaseBytes } from "../common/database_bytes.mjs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SECRET, hs256, stagingGateway } from "./peers.mjs";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";
test("Connections and Recordings: connect with a JWT, see events, emit with ack, record, open", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const gw = await stagingGateway();
  t.after(() => gw.close());
  const dir = mkdtempSync(join(tmpdir(), "sockscope-gui-db-"));
  const db = join(dir, "gui.db");
  const token = hs256(SECRET, { sub: "ann", tenantId: "acme" });

  const s = await openApp(t, { SOCKSCOPE_DB: db });
  mkdirSync(artifacts, { recursive: true });

  await s.waitFor("#tab-connections", "the Connections tab");
  await s.click("#tab-connections");
  await s.waitFor("#conn-url", "the connection form");
  const name = `staging-${process.pid}`;
  await s.type("#conn-name", name);
  await s.type("#conn-url", gw.url);
  await s.type("#conn-namespace", "/dashboard");
  await s.type("#conn-on-connect", 'subscribe={"entityId":"e1","count":3}');

  // A wrong token: the gateway's own words, visibly.
  await s.type("#conn-token", hs256("not-the-secret", { sub: "ann", tenantId: "acme" }));
  await s.click("#conn-connect");
  await s.until(async () => /refused the connection: bad signature/.test(await s.text("#conn-note")), "the bad-token message");

  // Bad JSON in the on-connect emits is caught before anything is sent.
  await s.type("#conn-on-connect", "subscribe={oops");
  await s.click("#conn-connect");
  await s.until(async () => /bad JSON template in on-connect subscribe/.test(await s.text("#conn-note")), "the bad JSON message");
  await s.type("#conn-on-connect", 'subscribe={"entityId":"e1","count":3}');

  await s.type("#conn-token", token);
  await s.click("#conn-remember");
  await s.click("#conn-connect");
  await s.until(async () => /^connected: /.test(await s.text("#conn-note")), "the connection");
  await s.waitFor('[data-testid="open-connection"]', "the open connection");
  const source = await s.attr('[data-testid="open-connection"]', "data-source");
  assert.match(source, /^connection:\d+$/);

  // Save the target: the keychain has the token, the database does not.
  await s.click("#conn-save");
  await s.waitFor(`[data-testid="saved-target"][data-name="${name}"]`, "the saved target");
  await s.until(async () => /token in keychain/.test(await s.innerText(`[data-testid="saved-target"][data-name="${name}"]`)), "the keychain mark");

  // The on-connect subscribe's three metric updates reach the live log.
  await s.click("#tab-live");
  await s.until(async () => (await s.findAll('[data-testid="event-row"][data-event="metric:update"]')).length === 3, "3 metric:update rows");
  // Filters: only s2c events of this connection named echo -> nothing yet.
  await s.type("#log-filter-event", "metric");
  await s.until(async () => /^3 of \d+$/.test(await s.text("#log-shown")), "the filtered count");
  await s.click('[data-testid="event-row"][data-event="metric:update"]');
  await s.until(async () => /"entityId": "e1"/.test(await s.text("#log-json")), "the JSON viewer");
  await s.type("#log-filter-event", "");

  // Record this connection, emit from the composer, stop.
  await s.click("#tab-recordings");
  await s.type("#record-name", "gui-run");
  await s.click(`#record-source option[value="${source}"]`);
  await s.click("#record-start");
  await s.until(async () => /events written/.test(await s.text("#record-status")), "the recording to start");

  await s.click("#tab-connections");
  await s.type("#emit-event", "subscribe");
  await s.type("#emit-args", '{"entityId":"e2","count":5}');
  await s.click("#emit-ack"); // off: the server does not ack subscribe
  await s.click("#emit-send");
  await s.until(async () => /sent subscribe/.test(await s.text("#emit-result")), "the emit");
  await s.type("#emit-event", "echo");
  await s.type("#emit-args", '{"ping":1}');
  await s.click("#emit-ack");
  await s.click("#emit-send");
  await s.until(async () => /ack in [\d.]+ ms: .*"tenant":"acme"/.test(await s.text("#emit-result")), "the ack reply and latency");
  writeFileSync(join(artifacts, "connections-panel.png"), await s.screenshot());
  await s.type("#emit-args", "{broken");
  await s.click("#emit-send");
  await s.until(async () => /bad JSON template/.test(await s.text("#emit-result")), "the bad JSON message");

  await s.click("#tab-recordings");
  // subscribe (c2s) + 5 metric:update (s2c) + echo (c2s with ack) = 7.
  await s.until(async () => /^● 7 events written, 0 dropped$/.test(await s.text("#record-status")), "7 events written");
  await s.click("#record-stop");
  await s.until(async () => /session \d+ saved: 7 events, 0 dropped/.test(await s.text("#recordings-note")), "the saved session");
  await s.waitFor('[data-testid="session-row"][data-name="gui-run"]', "the session in the list");
  assert.equal(await s.text('[data-testid="session-row"][data-name="gui-run"] .events'), "7");
  await s.click('[data-testid="session-row"][data-name="gui-run"] [data-testid="session-open"]');
  await s.waitFor("#session-view", "the opened recording");
  await s.until(async () => (await s.findAll('#session-rows [data-testid="event-row"][data-event="metric:update"]')).length === 5, "5 recorded metric:update rows");
  await s.waitFor('#session-rows [data-testid="event-row"][data-event="echo"]', "the recorded echo");
  writeFileSync(join(artifacts, "recordings-panel.png"), await s.screenshot());

  // A locked-out path is a visible message, nothing is lost.
  await s.type("#session-path", "/nonexistent-dir/x.jsonl");
  await s.click('[data-testid="session-row"][data-name="gui-run"] [data-testid="session-export"]');
  await s.until(async () => /nonexistent-dir/.test(await s.text("#recordings-note")), "the export error");
  const out = join(dir, "gui-run.jsonl");
  await s.type("#session-path", out);
  await s.click('[data-testid="session-row"][data-name="gui-run"] [data-testid="session-export"]');
  await s.until(async () => /exported 7 events/.test(await s.text("#recordings-note")), "the export");
  const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.filter((e) => e.event === "metric:update").map((e) => e.args[0].i), [1, 2, 3, 4, 5]);
  assert.ok(lines.every((e) => e.args[0].entityId !== "e1"), "the recording holds only what came after Record");

  // Close the window, then no byte of the token anywhere in the database.
  await s.close();
  const bytes = databaseBytes(db, ["gui-run", "metric:update"]);
  assert.ok(!bytes.includes(token), `the token is in ${db}`);
});
