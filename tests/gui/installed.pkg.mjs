// The installed package, not the build tree: run by `cargo xtask test-package` after
// `apt-get install ./sockscope_*.deb`, with SOCKSCOPE_BIN and SOCKSCOPE_APP_BIN naming
// the files the package put under /usr/bin. The CLI answers --version and serves a
// Node client; the installed desktop binary starts its gateway and shows an event.
// (Named *.pkg.mjs so the ordinary GUI run does not pick it up.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io } from "socket.io-client";
import { openApp, WAIT_MS } from "./webdriver.mjs";

const cli = process.env.SOCKSCOPE_BIN;
const app = process.env.SOCKSCOPE_APP_BIN;
const artifacts = process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts";

test("installed CLI: --version names the version and the git revision", () => {
  assert.ok(cli?.startsWith("/usr/"), `SOCKSCOPE_BIN must be the installed CLI, got ${cli}`);
  const out = execFileSync(cli, ["--version"], { encoding: "utf8" });
  // The revision the binary names is the commit it was built from: not "unknown",
  // not any other hash (xtask passes the checkout's own).
  const rev = process.env.SOCKSCOPE_EXPECT_REV;
  assert.match(rev ?? "", /^[0-9a-f]{7,40}$/, "SOCKSCOPE_EXPECT_REV must be the checkout's revision");
  assert.match(out, /^sockscope \d+\.\d+\.\d+ \([0-9a-f]{7,40}\)\s*$/);
  assert.equal(/\(([0-9a-f]+)\)/.exec(out)[1], rev);
});

test("installed CLI: serve --port 0 answers a Node socket.io client", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-pkg-"));
  const child = spawn(cli, ["serve", "--port", "0", "--db", join(dir, "db.sqlite")], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data") },
  });
  t.after(() => child.kill("SIGTERM"));
  let err = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not announce its address: ${err}`)), WAIT_MS);
    child.stderr.on("data", (d) => (err += d));
    // `listening on URL` is serve's first stdout line; events follow it there.
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
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
    client.once("connect", resolve);
    client.once("connect_error", reject);
  });
  const ack = await client.timeout(5000).emitWithAck("pkg-hello", { n: 1 });
  assert.equal(ack.ok, true);
});

test("installed desktop app: the gateway starts and a Node client's event shows", async (t) => {
  assert.ok(app?.startsWith("/usr/"), `SOCKSCOPE_APP_BIN must be the installed app, got ${app}`);
  const dir = mkdtempSync(join(tmpdir(), "sockscope-pkg-app-"));
  const s = await openApp(t, { SOCKSCOPE_DB: join(dir, "db.sqlite") });
  await s.waitFor("#gateway-start", "the Server panel");
  await s.until(async () => /^v\d+\.\d+\.\d+ · /.test(await s.text("#about")), "the About line");
  assert.equal((await s.text("#about")).split(" · ")[1], process.env.SOCKSCOPE_EXPECT_REV, "the app names another revision than the checkout's");
  await s.type("#gateway-port", "0");
  await s.click("#gateway-start");
  await s.until(async () => (await s.text("#gateway-state")) === "running", "the gateway to run");
  const addr = await s.text("#gateway-addr");
  const client = io(addr, { transports: ["websocket"], reconnection: false, forceNew: true });
  t.after(() => client.close());
  await new Promise((resolve, reject) => {
    client.once("connect", resolve);
    client.once("connect_error", reject);
  });
  client.emit("pkg-gui-hello", { from: "installed" });
  await s.waitFor('[data-testid="event-row"][data-event="pkg-gui-hello"]', "the event in the live list");
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(join(artifacts, "installed-app.png"), await s.screenshot());
});
