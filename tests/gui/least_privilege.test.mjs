// The webview's least privilege, read from what was built and what is served, and
// tried as an attack:
// - the capability set tauri-build resolved (src-tauri/gen/schemas/capabilities.json)
//   grants the main window only event listening and Sockscope's own commands: no fs,
//   shell, http, opener or other plugin permission, no remote URL, no other window;
// - the CSP the running window actually got has no remote origin, no wildcard and no
//   unsafe-inline/unsafe-eval for scripts;
// - from inside the window, a fetch, an image and a WebSocket to a server on this
//   machine never reach it (the CSP blocks them), while a fetch of the app's own page
//   works and a command answers over IPC (positive controls).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openApp } from "./webdriver.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
/** Core permissions the UI needs: it listens to the engine's batched events. */
const CORE_ALLOWED = new Set(["core:event:allow-listen", "core:event:allow-unlisten"]);

function builtCapabilities() {
  const file = join(ROOT, "src-tauri/gen/schemas/capabilities.json");
  assert.ok(existsSync(file), `${file} is missing: build the app first (cargo xtask test does)`);
  const parsed = JSON.parse(readFileSync(file, "utf8"));
  return Array.isArray(parsed) ? parsed : Object.values(parsed);
}

/** The commands the app registers, as tauri-build was told (src-tauri/build.rs or the protocol's declarations). */
function appCommandPermissions(caps) {
  return caps.flatMap((c) => c.permissions.map((p) => (typeof p === "string" ? p : p.identifier))).filter((p) => /^allow-cmd-/.test(p));
}

test("the built capability set grants only event listening and Sockscope's own commands, to the main window", () => {
  const caps = builtCapabilities();
  assert.deepEqual(caps.map((c) => c.identifier), ["main"], "one capability, for the main window");
  const [main] = caps;
  assert.deepEqual(main.windows, ["main"]);
  assert.equal(main.remote, undefined, `the capability opens IPC to remote URLs: ${JSON.stringify(main.remote)}`);
  assert.notEqual(main.local, false);
  const perms = main.permissions.map((p) => (typeof p === "string" ? p : p.identifier));
  const widened = perms.filter((p) => !CORE_ALLOWED.has(p) && !/^allow-cmd-[a-z-]+$/.test(p));
  assert.deepEqual(widened, [], "permissions beyond event listening and the app's own commands");
  // Every object-form permission is a plain grant: no scopes that reach files or URLs.
  for (const p of main.permissions.filter((p) => typeof p !== "string")) {
    assert.deepEqual(Object.keys(p).sort(), ["identifier"], `scoped permission ${JSON.stringify(p)}`);
  }
  assert.ok(appCommandPermissions(caps).length >= 20, "the app's commands are missing from the capability");
});

test("the window's CSP has no remote origin, and the page cannot reach a server on this machine", async (t) => {
  // A server on loopback the page must not reach; counts every request and upgrade.
  const hits = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "access-control-allow-origin": "*", "content-type": "image/png" });
    res.end("x");
  });
  server.on("upgrade", (req, socket) => {
    hits.push(`UPGRADE ${req.url}`);
    socket.destroy();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const port = server.address().port;

  const s = await openApp(t);
  await s.waitFor("#gateway-start", "the Server panel");
  // Positive control: a command answers over IPC (the About line is filled by one).
  await s.until(async () => /^v\d+\.\d+\.\d+ · /.test(await s.text("#about")), "the About line over IPC");

  // The CSP as served: the response header of the app's own page, else its meta tag.
  const served = await s.executeAsync(`
    const done = arguments[arguments.length - 1];
    const meta = document.querySelector('meta[http-equiv="Content-Security-Policy"]');
    fetch(location.href).then(
      (r) => done({ ok: r.ok, header: r.headers.get("content-security-policy"), meta: meta && meta.content, href: location.href }),
      (e) => done({ ok: false, error: String(e), meta: meta && meta.content, href: location.href }),
    );`);
  assert.equal(served.ok, true, `the page could not fetch itself (positive control): ${JSON.stringify(served)}`);
  const csp = served.header ?? served.meta;
  assert.ok(csp, `the window got no CSP at all: ${JSON.stringify(served)}`);
  const directives = Object.fromEntries(
    csp.split(";").map((d) => d.trim()).filter(Boolean).map((d) => {
      const [name, ...sources] = d.split(/\s+/);
      return [name, sources];
    }),
  );
  assert.deepEqual(directives["default-src"], ["'self'"], csp);
  const local = /^('self'|'wasm-unsafe-eval'|'none'|data:|ipc:|http:\/\/ipc\.localhost|'sha(256|384|512)-[A-Za-z0-9+/=]+'|'nonce-[A-Za-z0-9+/=]+')$/;
  for (const [name, sources] of Object.entries(directives)) {
    for (const src of sources) assert.match(src, local, `${name} allows ${src}: ${csp}`);
  }
  assert.ok(!(directives["script-src"] ?? []).some((x) => /unsafe-(inline|eval)'/.test(x)), csp);

  // The attack: the page tries to reach the loopback server three ways.
  const tried = await s.executeAsync(`
    const done = arguments[arguments.length - 1];
    const port = arguments[0];
    const out = {};
    const img = new Promise((r) => { const i = new Image(); i.onload = () => r("loaded"); i.onerror = () => r("blocked"); i.src = "http://127.0.0.1:" + port + "/img"; });
    const f = fetch("http://127.0.0.1:" + port + "/fetch").then(() => "fetched", (e) => "blocked: " + e);
    const ws = new Promise((r) => { try { const w = new WebSocket("ws://127.0.0.1:" + port + "/ws"); w.onopen = () => r("open"); w.onerror = () => r("blocked"); setTimeout(() => r("timeout"), 3000); } catch (e) { r("blocked: " + e); } });
    Promise.all([img, f, ws]).then(([i, fe, w]) => done({ img: i, fetch: fe, ws: w }));`, [port]);
  assert.equal(tried.img, "blocked", JSON.stringify(tried));
  assert.match(tried.fetch, /^blocked/, JSON.stringify(tried));
  assert.notEqual(tried.ws, "open", JSON.stringify(tried));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(hits, [], "the page reached the loopback server");
});
