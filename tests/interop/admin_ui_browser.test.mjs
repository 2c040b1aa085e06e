// The official Socket.IO Admin UI front end (the `ui/dist` shipped in the
// @socket.io/admin-ui 0.5.1 npm package, served here by a small static server) in
// headless Chromium (Debian's `chromium`, driven by playwright-core), logging in to
// `sockscope serve --admin` with a user name and password and showing our sockets and
// rooms. A wrong password first gets the UI's own "Invalid credentials" (the
// negative), then the right one shows the sockets (the control).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, normalize } from "node:path";
import { io } from "socket.io-client";
import bcrypt from "bcryptjs";
import { chromium } from "playwright-core";
import { hs256, once, serve, withTimeout } from "./harness.mjs";

const CHROMIUM = "/usr/bin/chromium";
const SECRET = "browser-interop-secret";
const PASSWORD = "open sesame";
const require = createRequire(import.meta.url);
const UI_DIST = join(dirname(require.resolve("@socket.io/admin-ui/package.json")), "ui", "dist");

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml", ".map": "application/json" };

/** Serves `root` on 127.0.0.1 (index.html for `/`); nothing outside it. */
async function staticServer(root) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const file = normalize(join(root, path === "/" ? "index.html" : path));
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

/** Chromium is part of the test set: a machine without it fails, never skips. */
function requireChromium() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (cargo xtask test does)`);
}

test("the official Admin UI logs in to serve --admin and shows our sockets and rooms", async (t) => {
  requireChromium();
  const hash = bcrypt.hashSync(PASSWORD, 8);
  const srv = await serve(["--port", "0", "--jwt-secret", SECRET, "--admin", "--admin-user", "ops", "--admin-password-hash", hash]);
  t.after(() => srv.child.kill("SIGKILL"));
  const ui = await staticServer(UI_DIST);
  t.after(() => ui.server.close());

  const clients = [];
  t.after(() => clients.forEach((c) => c.close()));
  const member = async (user, tenantId, room) => {
    const c = io(srv.url, { auth: { token: hs256(SECRET, { sub: user, tenantId }) }, transports: ["websocket"], reconnection: false, forceNew: true });
    clients.push(c);
    await once(c, "connect", `${user} to connect`);
    await withTimeout(c.emitWithAck("subscribe", { room }), `${user} to subscribe`);
    return c.id;
  };
  const ann = await member("ann", "acme", "lobby");
  const bob = await member("bob", "globex", "orders");

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  // Loopback only: the UI's web fonts and icon CDN are refused at once instead of
  // waiting for a network this machine does not have.
  await page.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    return host === "127.0.0.1" ? route.continue() : route.abort();
  });
  page.setDefaultTimeout(15_000);
  await page.goto(ui.url);

  const connect = async (password) => {
    await page.getByLabel("Server URL").fill(srv.url);
    await page.getByLabel("Username").fill("ops");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Connect" }).click();
  };
  await connect("wrong password");
  await page.getByText("Invalid credentials").waitFor();

  await connect(PASSWORD);
  await page.getByLabel("Server URL").waitFor({ state: "hidden" });

  await page.goto(`${ui.url}/#/sockets/`);
  await page.getByText(ann).waitFor();
  await page.getByText(bob).waitFor();
  if (process.env.SOCKSCOPE_ARTIFACTS) await page.screenshot({ path: join(process.env.SOCKSCOPE_ARTIFACTS, "admin-ui-sockets.png") });
  const sockets = await page.locator("body").innerText();
  assert.ok(sockets.includes(ann) && sockets.includes(bob), sockets);

  await page.goto(`${ui.url}/#/rooms/`);
  await page.getByText("tenant:acme:room:lobby").waitFor();
  await page.getByText("tenant:globex:room:orders").waitFor();

  // The server list shows our serverId (hostname#port).
  await page.goto(`${ui.url}/#/servers/`);
  await page.getByText(`#${new URL(srv.url).port}`).first().waitFor();
});
