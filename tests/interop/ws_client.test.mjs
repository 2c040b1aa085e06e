// Our plain WebSocket client (`sockscope record --ws`) against the embedded Jac Cloud
// emulation (`sockscope serve --profile jac`): headers and query reach the gateway,
// every message both ways is recorded with its `type` as the event, and neither the
// bearer token nor a token inside a message reaches the database file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hs256, run, serve } from "./harness.mjs";

const ROOT_USER = "672b35cec309e5ef8469c372";

async function sessionEvents(db, id) {
  const shown = await run(["sessions", "show", String(id), "--db", db, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  return shown.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

test("record --ws: Jac messages both ways land in SQLite, the bearer token does not", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jac"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const url = `${srv.url.replace("http", "ws")}/websocket`;
  const token = hs256("jac-secret", { sub: ROOT_USER });
  const other = hs256("jac-secret", { sub: "5f0000000000000000000002" });
  const dir = mkdtempSync(join(tmpdir(), "sockscope-ws-"));
  const db = join(dir, "ws.db");
  const walker = { type: "walker", walker: "greet", response: true, context: { name: "ann" } };
  const rec = await run([
    "record", url, "--ws",
    "--header", `Authorization: Bearer ${token}`,
    "--query", "channel_id=chan-7",
    "--send", JSON.stringify(walker),
    "--send", JSON.stringify({ type: "change_user", token: `Bearer ${other}` }),
    "--count", "6", "--db", db, "--name", "jac-run", "--json",
  ]);
  assert.equal(rec.code, 0, rec.stderr);
  assert.match(rec.stderr, /6 events written, 0 dropped/);

  const sessions = JSON.parse((await run(["sessions", "list", "--db", db, "--json"])).stdout);
  assert.equal(sessions.length, 1);
  const [session] = sessions;
  assert.equal(session.name, "jac-run");
  assert.equal(session.kind, "connection");
  assert.equal(session.meta.protocol, "websocket");
  assert.deepEqual(session.meta.headers, ["Authorization"]);

  const events = await sessionEvents(db, session.id);
  assert.equal(events.length, 6);
  for (const e of events) {
    assert.equal(e.namespace, "/websocket");
    assert.match(e.source, /^connection:\d+$/);
  }
  const sig = events.map((e) => `${e.direction} ${e.event}`);
  assert.equal(sig[0], "s2c connect");
  assert.deepEqual([...sig].sort(), [
    "c2s change_user", "c2s walker", "s2c connect", "s2c connection", "s2c connection", "s2c walker",
  ]);
  // The header and the query reached the gateway: the first connection info names the
  // token's root and our channel.
  const infos = events.filter((e) => e.event === "connection");
  assert.equal(infos[0].args[0].data.root_id, `n::${ROOT_USER}`);
  assert.equal(infos[0].args[0].data.channel_id, "chan-7");
  assert.equal(infos[1].args[0].data.root_id, "n::5f0000000000000000000002", "change_user took effect");
  // Sent messages are recorded as sent, each before its answer.
  const sent = events.findIndex((e) => e.direction === "c2s" && e.event === "walker");
  const answer = events.findIndex((e) => e.direction === "s2c" && e.event === "walker");
  assert.ok(sent >= 0 && answer > sent, sig.join(", "));
  assert.deepEqual(events[sent].args, [walker]);
  assert.equal(events[answer].args[0].response.status, 200);
  assert.deepEqual(events[answer].args[0].response.reports[0].context, { name: "ann" });
  assert.deepEqual(events.find((e) => e.event === "change_user").args, [{ type: "change_user", token: "[redacted]" }]);

  // The gateway saw the same walker message.
  const gatewaySaw = srv.lines.map((l) => JSON.parse(l)).filter((e) => e.direction === "c2s" && e.event === "walker");
  assert.equal(gatewaySaw.length, 1);

  for (const f of [db, `${db}-wal`, `${db}-shm`]) {
    if (!existsSync(f)) continue;
    const bytes = readFileSync(f);
    assert.ok(!bytes.includes(token), `bearer token found in ${f}`);
    assert.ok(!bytes.includes(other), `change_user token found in ${f}`);
    assert.ok(!bytes.includes("Bearer"), `an Authorization value found in ${f}`);
  }
});

test("connect --ws: a refused upgrade is one line with the status, and no session", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "jac"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const dir = mkdtempSync(join(tmpdir(), "sockscope-ws-"));
  const db = join(dir, "ws.db");
  const r = await run(["record", `${srv.url}/no-such-endpoint`, "--ws", "--count", "1", "--db", db]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /refused the connection: HTTP 404/);
  const list = JSON.parse((await run(["sessions", "list", "--db", db, "--json"])).stdout);
  assert.equal(list.length, 0);

  const bad = await run(["connect", `${srv.url}/websocket`, "--ws", "--send", "{not json"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad JSON in --send/);
});
