// Recording a real Node socket.io gateway: nothing lost, order and payloads kept,
// export/import round trip, survives a server restart with re-subscription, and no
// secret in the database file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { databaseBytes } from "../common/database_bytes.mjs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { hs256, run, sockscopeBin, withTimeout } from "./harness.mjs";
import { metric } from "./staging-data.mjs";

const SECRET = "staging-secret";

function startStaging(port = 0) {
  const child = spawn(process.execPath, [new URL("./staging-server.mjs", import.meta.url).pathname, String(port), SECRET], { stdio: ["ignore", "pipe", "inherit"] });
  const rl = createInterface({ input: child.stdout });
  return withTimeout(
    new Promise((resolve, reject) => {
      rl.on("line", (l) => {
        const m = /^listening on (\S+)$/.exec(l);
        if (m) resolve({ child, url: m[1], port: Number(new URL(m[1]).port) });
      });
      child.on("exit", (c) => reject(new Error(`staging server exited ${c}`)));
    }),
    "the staging server",
  );
}

function startRecord(args) {
  const child = spawn(sockscopeBin(), ["record", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout: () => stdout, stderr })));
  return { child, done, stdout: () => stdout };
}

async function sessionEvents(db, id) {
  const shown = await run(["sessions", "show", String(id), "--db", db, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  return shown.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

async function lastSession(db) {
  const list = await run(["sessions", "list", "--db", db, "--json"]);
  assert.equal(list.code, 0, list.stderr);
  const sessions = JSON.parse(list.stdout);
  return sessions.at(-1);
}

test("record: every server event lands in SQLite in order with equal payloads; export -> import is identical; no secret in the file", async (t) => {
  const staging = await startStaging();
  t.after(() => staging.child.kill("SIGKILL"));
  const dir = mkdtempSync(join(tmpdir(), "sockscope-rec-"));
  const db = join(dir, "rec.db");
  const token = hs256(SECRET, { sub: "ann", tenantId: "acme" });
  const N = 2000;
  const rec = startRecord([
    staging.url, "--namespace", "/dashboard", "--auth", JSON.stringify({ token }),
    "--emit", `subscribe=${JSON.stringify({ entityId: "e1", count: N })}`,
    "--count", String(N + 2), "--db", db, "--json", "--name", "dash",
  ]);
  const { code, stderr } = await withTimeout(rec.done, "record to finish", 30_000);
  assert.equal(code, 0, stderr);
  assert.match(stderr, new RegExp(`${N + 2} events written, 0 dropped`));

  const session = await lastSession(db);
  assert.equal(session.name, "dash");
  assert.equal(session.kind, "connection");
  const events = await sessionEvents(db, session.id);
  const metrics = events.filter((e) => e.event === "metric:update");
  assert.equal(metrics.length, N);
  metrics.forEach((e, k) => {
    assert.equal(e.direction, "s2c");
    assert.deepEqual(e.args, [metric("e1", k + 1)]);
  });
  const sub = events.find((e) => e.event === "subscribe");
  assert.deepEqual(sub.args, [{ entityId: "e1", count: N }]);
  assert.equal(sub.direction, "c2s");

  const file = join(dir, "dash.jsonl");
  const exp = await run(["sessions", "export", String(session.id), "--db", db, "-o", file]);
  assert.equal(exp.code, 0, exp.stderr);
  const imp = await run(["sessions", "import", file, "--db", db, "--json"]);
  assert.equal(imp.code, 0, imp.stderr);
  const { id: copyId, events: copied } = JSON.parse(imp.stdout);
  assert.equal(copied, events.length);
  assert.deepEqual(await sessionEvents(db, copyId), events);

  const bytes = databaseBytes(db, ["metric:update", '"entityId":"e1"', "dash"]);
  assert.ok(!bytes.includes(token), `token found in ${db}`);
  const rm = await run(["sessions", "rm", String(copyId), "--db", db]);
  assert.equal(rm.code, 0);
  const gone = await run(["sessions", "show", String(copyId), "--db", db]);
  assert.equal(gone.code, 2);
  assert.match(gone.stderr, /no session/);
});

test("record: survives a server restart and re-subscribes", async (t) => {
  let staging = await startStaging();
  const port = staging.port;
  t.after(() => staging.child.kill("SIGKILL"));
  const dir = mkdtempSync(join(tmpdir(), "sockscope-rec-"));
  const db = join(dir, "rec.db");
  const token = hs256(SECRET, { sub: "ann", tenantId: "acme" });
  const rec = startRecord([
    staging.url, "--namespace", "/dashboard", "--auth", JSON.stringify({ token }), "--transport", "websocket",
    "--emit", `subscribe=${JSON.stringify({ entityId: "e2", count: 5 })}`,
    "--duration", "8s", "--db", db, "--json",
  ]);
  t.after(() => rec.child.kill("SIGKILL"));
  const seen = (n) => rec.stdout().split("\n").filter((l) => l.includes('"metric:update"')).length >= n;
  await withTimeout((async () => { while (!seen(5)) await new Promise((r) => setTimeout(r, 50)); })(), "the first batch");
  staging.child.kill("SIGKILL");
  await new Promise((r) => setTimeout(r, 300));
  staging = await startStaging(port);
  await withTimeout((async () => { while (!seen(10)) await new Promise((r) => setTimeout(r, 50)); })(), "the batch after the restart", 15_000);
  rec.child.kill("SIGINT");
  const { code, stderr } = await withTimeout(rec.done, "record to stop");
  assert.equal(code, 0, stderr);
  const events = await sessionEvents(db, (await lastSession(db)).id);
  assert.equal(events.filter((e) => e.event === "subscribe").length, 2);
  assert.equal(events.filter((e) => e.event === "metric:update").length, 10);
  // Two connects: the first and the one after the restart. (rust_socketio 0.6 does not
  // report the dropped transport itself before it reconnects; see README limits.)
  assert.equal(events.filter((e) => e.event === "connect").length, 2, JSON.stringify(events.map((e) => e.event)));
});

test("connect/record: bad input and unreachable targets are one-line errors, exit 2", async () => {
  const cases = [
    [["connect", "http://127.0.0.1:1", "--no-reconnect"], /cannot reach http:\/\/127\.0\.0\.1:1/],
    [["connect", "http://127.0.0.1:1", "--emit", "subscribe={oops"], /bad JSON template in --emit subscribe/],
    [["connect", "http://127.0.0.1:1", "--auth", "{"], /bad JSON in --auth/],
    [["record", "http://127.0.0.1:1", "--duration", "ten"], /bad duration/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test("connect: a refused handshake names the server's reason", async (t) => {
  const staging = await startStaging();
  t.after(() => staging.child.kill("SIGKILL"));
  const r = await run(["connect", staging.url, "--namespace", "/dashboard", "--auth", JSON.stringify({ token: hs256("wrong", {}) }), "--no-reconnect"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /refused the connection: bad signature/);
});

test("serve --record: the embedded gateway records what it sees", async (t) => {
  const { serve } = await import("./harness.mjs");
  const { io } = await import("socket.io-client");
  const dir = mkdtempSync(join(tmpdir(), "sockscope-rec-"));
  const db = join(dir, "gw.db");
  const srv = await serve(["--port", "0", "--record", "local", "--db", db]);
  t.after(() => srv.child.kill("SIGKILL"));
  const c = io(srv.url, { transports: ["websocket"], reconnection: false });
  await withTimeout(new Promise((r) => c.on("connect", r)), "connect");
  for (let i = 0; i < 3; i++) await c.emitWithAck("tick", { i });
  c.close();
  await new Promise((r) => setTimeout(r, 200));
  srv.child.kill("SIGTERM");
  await withTimeout(srv.exited, "serve to exit");
  assert.match(srv.stderr(), /events written, 0 dropped/);
  const session = await lastSession(db);
  assert.equal(session.kind, "gateway");
  const events = await sessionEvents(db, session.id);
  assert.deepEqual(events.filter((e) => e.event === "tick").map((e) => e.args), [[{ i: 0 }], [{ i: 1 }], [{ i: 2 }]]);
  assert.deepEqual(events.map((e) => e.event), ["connect", "tick", "tick", "tick", "disconnect"]);
});
