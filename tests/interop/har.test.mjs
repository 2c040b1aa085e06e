// HAR import/export against a capture of real socket.io 4.8 traffic
// (fixtures/dashboard.har, made by capture-har.mjs). The expected events are decoded
// from the fixture here with socket.io-parser, the parser socket.io itself uses, so
// the test does not trust our decoder: same events, order, payloads, directions,
// namespaces, acks and microsecond timestamps; no secret of the capture in the
// database; export -> import gives the same events; a bad file is one line naming it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { databaseBytes } from "../common/database_bytes.mjs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decoder, PacketType } from "socket.io-parser";
import { run } from "./harness.mjs";
import { SECRETS } from "./capture-har.mjs";

const FIXTURE = new URL("./fixtures/dashboard.har", import.meta.url).pathname;
const REDACTED = "[redacted]";

/** The records the fixture should import as, decoded independently of sockscope. */
function expectedFrom(harPath) {
  const entry = JSON.parse(readFileSync(harPath, "utf8")).log.entries.find((e) => e._webSocketMessages);
  const records = [];
  const sids = new Map();
  const decoders = { send: new Decoder(), receive: new Decoder() };
  // The last text frame per direction: a binary packet's time is its header's (the
  // attachments follow it), and decoding is synchronous.
  const header = {};
  const toJson = (v) =>
    Buffer.isBuffer(v) ? { _binary: v.toString("base64") }
      : Array.isArray(v) ? v.map(toJson)
      : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]))
      : v;
  for (const [type, decoder] of Object.entries(decoders)) {
    decoder.on("decoded", (p) => {
      const direction = type === "send" ? "c2s" : "s2c";
      const base = { direction, namespace: p.nsp, ts: Math.round(header[type].time * 1e6) };
      const data = toJson(p.data);
      switch (p.type) {
        case PacketType.CONNECT:
          if (direction === "s2c") sids.set(p.nsp, data.sid);
          records.push({ ...base, event: "connect", args: data === undefined ? [] : [data], socket_id: sids.get(p.nsp) });
          break;
        case PacketType.DISCONNECT:
          records.push({ ...base, event: "disconnect", args: [], socket_id: sids.get(p.nsp) });
          break;
        case PacketType.EVENT:
        case PacketType.BINARY_EVENT: {
          const [event, ...args] = data;
          const r = { ...base, event, args, socket_id: sids.get(p.nsp) };
          if (p.id !== undefined) r.ack = { id: p.id };
          records.push(r);
          break;
        }
        case PacketType.ACK:
        case PacketType.BINARY_ACK: {
          const asked = records.findLast((r) => r.direction !== direction && r.namespace === p.nsp && r.ack?.id === p.id && !("reply" in r.ack));
          assert.ok(asked, `the fixture's ack ${p.id} answers no event`);
          asked.ack.reply = data.length === 1 ? data[0] : data;
          break;
        }
        default:
          throw new Error(`unexpected packet ${JSON.stringify(p)}`);
      }
    });
  }
  for (const m of entry._webSocketMessages) {
    if (m.opcode === 1) header[m.type] = m;
    if (m.opcode === 2) decoders[m.type].add(Buffer.from(m.data, "base64"));
    else if (m.data.startsWith("4")) decoders[m.type].add(m.data.slice(1));
  }
  return { entry, records };
}

async function sessionEvents(db, id) {
  const shown = await run(["sessions", "show", String(id), "--db", db, "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  return shown.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

async function importFile(db, file, extra = []) {
  const imp = await run(["sessions", "import", file, "--db", db, "--json", ...extra]);
  assert.equal(imp.code, 0, imp.stderr);
  return JSON.parse(imp.stdout);
}

const withoutSeq = (events) => events.map(({ seq, ...rest }) => rest);

test("har: the captured socket.io session imports as its events, in order, with no secret in the database", async () => {
  const { entry, records: expected } = expectedFrom(FIXTURE);
  // The fixture is what it claims to be, so the checks below mean something.
  assert.ok(entry.request.url.includes(`token=${SECRETS.query}`));
  assert.ok(entry.request.headers.some((h) => h.name === "Authorization" && h.value === `Bearer ${SECRETS.bearer}`));
  assert.ok(entry.request.headers.some((h) => h.name === "Cookie" && h.value.includes(SECRETS.cookie)));
  assert.ok(entry._webSocketMessages.some((m) => m.data.includes(SECRETS.auth)));
  assert.ok(entry._webSocketMessages.some((m) => m.opcode === 2), "no binary frame in the fixture");
  assert.equal(expected.length, 10);

  const dir = mkdtempSync(join(tmpdir(), "sockscope-har-"));
  const db = join(dir, "har.db");
  const { id, events: n } = await importFile(db, FIXTURE); // .har: format from the extension
  assert.equal(n, expected.length);
  const events = await sessionEvents(db, id);
  assert.equal(events.length, expected.length);
  events.forEach((e, i) => {
    const want = expected[i];
    const where = `event ${i} (${want.event})`;
    assert.equal(e.event, want.event, where);
    assert.equal(e.direction, want.direction, where);
    assert.equal(e.namespace, want.namespace, where);
    assert.equal(e.ts, want.ts, where);
    assert.equal(e.source, "connection:1", where);
    assert.equal(e.socket_id, want.socket_id, where);
    if (want.event === "connect" && want.direction === "c2s") {
      assert.deepEqual(e.args, [{ token: REDACTED }], "the CONNECT auth token is redacted");
    } else {
      assert.deepEqual(e.args, want.args, where);
    }
    assert.deepEqual(e.ack, want.ack, where);
  });
  assert.deepEqual(events.map((e) => `${e.direction} ${e.event}`), [
    "c2s connect", "s2c connect", "s2c dashboard:initial", "c2s subscribe", "s2c metric:update",
    "s2c metric:update", "c2s upload", "s2c snapshot", "c2s unsubscribe", "c2s disconnect",
  ]);
  const upload = events.find((e) => e.event === "upload");
  assert.equal(Buffer.from(upload.args[0].bytes._binary, "base64").toString("latin1"), "sockscope\u0000\u00ff");
  assert.deepEqual(upload.ack.reply, { ok: true, name: "logo.bin", size: 11 });

  const list = JSON.parse((await run(["sessions", "list", "--db", db, "--json"])).stdout);
  const session = list.find((s) => s.id === id);
  assert.equal(session.kind, "import");
  assert.match(session.target, /^ws:\/\/127\.0\.0\.1:\d+\/socket\.io\/$/);

  const bytes = databaseBytes(db, ["dashboard:initial", "logo.bin", "metric:update"]);
  for (const [what, secret] of Object.entries(SECRETS)) {
    assert.ok(!bytes.includes(secret), `${what} secret found in ${db}`);
  }
  assert.ok(!bytes.includes("Bearer"), `an Authorization value found in ${db}`);
});

test("har: export -> import gives the same events", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-har-"));
  const db = join(dir, "har.db");
  const { id } = await importFile(db, FIXTURE, ["--format", "har"]);
  const original = await sessionEvents(db, id);

  const out = join(dir, "export.har");
  const exp = await run(["sessions", "export", String(id), "--format", "har", "-o", out, "--db", db]);
  assert.equal(exp.code, 0, exp.stderr);
  assert.match(exp.stderr, new RegExp(`exported ${original.length} events`));
  const har = JSON.parse(readFileSync(out, "utf8"));
  assert.equal(har.log.version, "1.2");
  assert.equal(har.log.entries.length, 1);
  assert.equal(har.log.entries[0]._resourceType, "websocket");
  assert.equal(har.log.entries[0].response.status, 101);

  // The export decodes with socket.io's own parser to the same events, too.
  const reparsed = expectedFrom(out).records;
  assert.deepEqual(reparsed.map((r) => [r.event, r.direction, r.ts]), original.map((e) => [e.event, e.direction, e.ts]));

  const { id: copy, events: n } = await importFile(db, out);
  assert.notEqual(copy, id);
  assert.equal(n, original.length);
  assert.deepEqual(withoutSeq(await sessionEvents(db, copy)), withoutSeq(original));
});

test("har: a file that is not a HAR, or has no WebSocket messages, is one line naming it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-har-"));
  const db = join(dir, "har.db");
  const bad = join(dir, "notes.har");
  writeFileSync(bad, "this is not JSON\n");
  const r = await run(["sessions", "import", bad, "--db", db]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0].includes(bad), r.stderr);

  const empty = join(dir, "plain-http.json");
  writeFileSync(empty, JSON.stringify({ log: { version: "1.2", entries: [{ request: { url: "http://x/" } }] } }));
  const r2 = await run(["sessions", "import", empty, "--format", "har", "--db", db]);
  assert.equal(r2.code, 2);
  assert.equal(r2.stderr.trim().split("\n").length, 1, r2.stderr);
  assert.ok(r2.stderr.includes(empty) && /no WebSocket/.test(r2.stderr), r2.stderr);

  const missing = join(dir, "missing.har");
  const r3 = await run(["sessions", "import", missing, "--db", db]);
  assert.equal(r3.code, 2);
  assert.ok(r3.stderr.includes(missing), r3.stderr);

  const list = JSON.parse((await run(["sessions", "list", "--db", db, "--json"])).stdout);
  assert.equal(list.length, 0, "a failed import left a session behind");
});
