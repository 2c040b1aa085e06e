// Order is evidence: 20,000 events emitted back to back on one socket to
// `sockscope serve --record` reach the live `--json` output and the recording in
// emit order, none missing. socketioxide runs each handler as its own task on the
// multi-threaded runtime; before the per-socket sequencer this found ~560 adjacent
// inversions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io } from "socket.io-client";
import { once, run, serve, withTimeout } from "./harness.mjs";

const N = 20_000;

/** Checks that `ns` is exactly 0..N-1; the message names the first inversions. */
function assertEmitOrder(ns, where) {
  const inversions = [];
  for (let k = 1; k < ns.length; k++) {
    if (ns[k] < ns[k - 1]) inversions.push(`${ns[k - 1]} before ${ns[k]}`);
  }
  assert.equal(inversions.length, 0, `${where}: ${inversions.length} adjacent inversions, e.g. ${inversions.slice(0, 5).join(", ")}`);
  assert.equal(ns.length, N, `${where}: ${ns.length} of ${N} events`);
  assert.deepEqual(ns, Array.from({ length: N }, (_, i) => i), `${where}: not 0..${N - 1}`);
}

test("serve --record: 20,000 events on one socket are printed and recorded in emit order, none missing", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-order-"));
  const db = join(dir, "order.db");
  const gw = await serve(["--port", "0", "--record", "order", "--db", db]);
  t.after(() => gw.child.kill("SIGKILL"));
  const client = io(gw.url, { transports: ["websocket"], reconnection: false });
  t.after(() => client.close());
  await once(client, "connect");
  for (let i = 0; i < N; i++) client.emit("n", i);

  // The live output (`--json`, one record a line) sees all of them...
  const live = [];
  let parsed = 0;
  await withTimeout(
    (async () => {
      for (;;) {
        for (; parsed < gw.lines.length; parsed++) {
          const r = JSON.parse(gw.lines[parsed]);
          if (r.event === "n") live.push(r);
        }
        if (live.length >= N) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    })(),
    `${N} printed events`,
    90_000,
  );

  client.close();
  gw.child.kill("SIGTERM");
  const { code } = await withTimeout(gw.exited, "serve to exit", 30_000);
  assert.equal(code, 0, gw.stderr());

  const list = await run(["sessions", "list", "--db", db, "--json"]);
  assert.equal(list.code, 0, list.stderr);
  const session = JSON.parse(list.stdout).at(-1);
  assert.equal(session.name, "order");
  const exported = await run(["sessions", "export", String(session.id), "--format", "jsonl", "--db", db]);
  assert.equal(exported.code, 0, exported.stderr);
  const recorded = exported.stdout.trim().split("\n").map((l) => JSON.parse(l));
  // Control: the recording has the connect before the events and they are all there.
  assert.equal(recorded[0].event, "connect");
  const ns = recorded.filter((r) => r.event === "n");
  // Both are checked before either fails, so a failure reports both counts.
  const problems = [];
  for (const [what, list] of [["live --json output", live], ["recording", ns]]) {
    try {
      assertEmitOrder(list.map((r) => r.args[0]), what);
    } catch (e) {
      problems.push(e.message.split("\n")[0]);
    }
  }
  assert.deepEqual(problems, []);
  // One socket's records carry that socket's id, in increasing bus order.
  assert.equal(new Set(live.map((r) => r.socket_id)).size, 1);
  for (let k = 1; k < live.length; k++) assert.ok(live[k].seq > live[k - 1].seq, "bus seq increases");
  for (let k = 1; k < recorded.length; k++) {
    assert.ok(recorded[k].seq > recorded[k - 1].seq, "recorded seq increases");
    // Stamped when the gateway read each packet, so one socket's times never go back.
    assert.ok(recorded[k].ts >= recorded[k - 1].ts, `ts goes back at record ${k}`);
  }
});
