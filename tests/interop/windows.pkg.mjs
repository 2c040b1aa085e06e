// sockscope.exe (cross-built for x86_64-pc-windows-gnu) under Wine, run by
// `cargo xtask test-windows`: --version, `serve --port 0` answering a Node client, and
// `sessions import` / `export` through a real SQLite file on the Windows side.
// (Named *.pkg.mjs so the ordinary interop run does not pick it up.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";

const exe = process.env.SOCKSCOPE_EXE;
const wine = process.env.SOCKSCOPE_WINE ?? "/usr/lib/wine/wine64";
const here = dirname(fileURLToPath(import.meta.url));
// Wine's first start in a fresh prefix builds it (tens of seconds).
const WINE_MS = 120_000;

/** A Linux path as Wine's Z: drive sees it. */
const win = (p) => `Z:${p.replaceAll("/", "\\")}`;

function runExe(args, { timeout = WINE_MS } = {}) {
  return new Promise((resolve, reject) => {
    execFile(wine, [exe, ...args], { timeout, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${args.join(" ")}: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

test("sockscope.exe --version under Wine", { timeout: WINE_MS * 2 }, async () => {
  assert.ok(exe && existsSync(exe), `SOCKSCOPE_EXE must name the built sockscope.exe, got ${exe}`);
  const { stdout } = await runExe(["--version"]);
  // The revision the binary names is the commit it was built from: not "unknown",
  // not any other hash (xtask passes the checkout's own).
  const rev = process.env.SOCKSCOPE_EXPECT_REV;
  assert.match(rev ?? "", /^[0-9a-f]{7,40}$/, "SOCKSCOPE_EXPECT_REV must be the checkout's revision");
  assert.match(stdout, /^sockscope \d+\.\d+\.\d+ \([0-9a-f]{7,40}\)\s*$/);
  assert.equal(/\(([0-9a-f]+)\)/.exec(stdout)[1], rev);
});

test("sockscope.exe serve --port 0 answers a Node socket.io client", { timeout: WINE_MS }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-win-"));
  const child = spawn(wine, [exe, "serve", "--port", "0", "--db", win(join(dir, "db.sqlite"))], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => child.kill("SIGKILL"));
  let err = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not announce its address: ${err}`)), WINE_MS / 2);
    child.stderr.on("data", (d) => (err += d));
    // `listening on URL` is serve's first stdout line; events follow it there.
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  const client = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
  t.after(() => client.close());
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no connect within 20 s")), 20_000);
    client.once("connect", () => (clearTimeout(timer), resolve()));
    client.once("connect_error", reject);
  });
  const ack = await client.timeout(10_000).emitWithAck("win-hello", { n: 1 });
  assert.equal(ack.ok, true);
});

test("sockscope.exe sessions import and export a HAR through SQLite", { timeout: WINE_MS }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-win-db-"));
  const db = win(join(dir, "rec.sqlite"));
  const har = win(join(here, "fixtures", "dashboard.har"));
  const imported = await runExe(["sessions", "import", har, "--db", db, "--json"]);
  const session = JSON.parse(imported.stdout.trim().split("\n").pop());
  assert.ok(session.id > 0, `import said ${imported.stdout}`);
  const out = join(dir, "out.jsonl");
  await runExe(["sessions", "export", String(session.id), "--db", db, "-o", win(out)]);
  const lines = readFileSync(out, "utf8").trim().split("\n");
  assert.ok(lines.length > 0);
  const first = JSON.parse(lines[0]);
  assert.ok(first.event, "an exported record names its event");
  // Positive control for the count: the same file listed back by the exe.
  const listed = await runExe(["sessions", "list", "--db", db, "--json"]);
  const sessions = JSON.parse(listed.stdout);
  assert.equal(sessions.find((s) => s.id === session.id)?.events, lines.length);
});
