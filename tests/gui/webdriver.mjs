// A small W3C WebDriver client over fetch, plus the tauri-driver process that serves
// it. Enough to drive the real Sockscope window: find by CSS, click, type, read text,
// take screenshots. Every wait is bounded.
import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";

export const WAIT_MS = 15_000;
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts tauri-driver on a free port and waits until it answers. Its output (and that
 * of the WebKitWebDriver and app it spawns) goes to a log file in `logDir`, never to
 * our stdout: a straggling app holding the test runner's pipe would hang the run.
 */
export async function startDriver(logDir, env = {}) {
  const port = await freePort();
  const nativePort = await freePort();
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, "tauri-driver.log"), "a");
  const child = spawn("tauri-driver", ["--port", String(port), "--native-port", String(nativePort)], {
    stdio: ["ignore", log, log],
    // The app inherits this environment (e.g. SOCKSCOPE_DB for a throwaway database).
    env: { ...process.env, ...env },
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const r = await fetch(`${base}/status`);
      if (r.ok || r.status < 500) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`tauri-driver exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error("tauri-driver did not answer within 15 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, stop: () => child.kill("SIGTERM") };
}

async function call(method, url, body) {
  const r = await fetch(url, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}

export class Session {
  static async create(base, application, args = []) {
    const value = await call("POST", `${base}/session`, {
      capabilities: {
        alwaysMatch: { browserName: "wry", "tauri:options": { application, args } },
      },
    });
    return new Session(`${base}/session/${value.sessionId}`);
  }

  constructor(url) {
    this.url = url;
  }

  async find(css) {
    const v = await call("POST", `${this.url}/element`, { using: "css selector", value: css });
    return v[ELEMENT];
  }

  async findAll(css) {
    const v = await call("POST", `${this.url}/elements`, { using: "css selector", value: css });
    return v.map((e) => e[ELEMENT]);
  }

  /** Polls until `css` matches, returns the element id. */
  async waitFor(css, what = css, ms = WAIT_MS) {
    return this.until(async () => (await this.findAll(css))[0], what, ms);
  }

  async until(check, what, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
      try {
        const v = await check();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async text(css) {
    return call("GET", `${this.url}/element/${await this.find(css)}/text`);
  }

  async click(css) {
    await call("POST", `${this.url}/element/${await this.find(css)}/click`, {});
  }

  async type(css, text, { clear = true } = {}) {
    const el = await this.find(css);
    // WebKitWebDriver does not scroll an element inside a scrolled panel into view
    // before Element Clear ("element not interactable" for a field above the panel's
    // visible part, as the Connections form is once it is scrolled to its buttons).
    await call("POST", `${this.url}/execute/sync`, {
      script: "arguments[0].scrollIntoView({ block: 'center' });",
      args: [{ [ELEMENT]: el }],
    });
    if (clear) await call("POST", `${this.url}/element/${el}/clear`, {});
    if (text !== "") await call("POST", `${this.url}/element/${el}/value`, { text });
  }

  async enabled(css) {
    return call("GET", `${this.url}/element/${await this.find(css)}/enabled`);
  }

  /**
   * The element's rendered text as the page computes it (`innerText`). WebKit's
   * WebDriver text command reports "" for the rows of the virtualised event table
   * although they are on screen (see the screenshots), so rows are read this way.
   */
  async innerText(css) {
    const v = await call("POST", `${this.url}/execute/sync`, {
      script: "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
      args: [css],
    });
    if (v === null) throw new Error(`no element matches ${css}`);
    return v;
  }

  /** Runs `script` in the page (WebDriver Execute Script) and returns its value. */
  async execute(script, args = []) {
    return call("POST", `${this.url}/execute/sync`, { script, args });
  }

  /**
   * Runs `script` in the page with a callback as its last argument (WebDriver
   * Execute Async Script); resolves with what the script passes to it.
   */
  async executeAsync(script, args = []) {
    return call("POST", `${this.url}/execute/async`, { script, args });
  }

  async selected(css) {
    return call("GET", `${this.url}/element/${await this.find(css)}/selected`);
  }

  async attr(css, name) {
    return call("GET", `${this.url}/element/${await this.find(css)}/attribute/${name}`);
  }

  async screenshot() {
    return Buffer.from(await call("GET", `${this.url}/screenshot`), "base64");
  }

  async close() {
    await call("DELETE", this.url).catch(() => {});
  }
}

/**
 * Starts tauri-driver and the app (`--no-autostart`: the gateway stays stopped) with
 * `env` added to its environment; both end with the test, the window first, or the
 * app outlives the test.
 */
export async function openApp(t, env = {}) {
  const application = process.env.SOCKSCOPE_APP_BIN;
  if (!application) throw new Error("SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const driver = await startDriver(process.env.SOCKSCOPE_ARTIFACTS ?? "artifacts", env);
  let s;
  try {
    s = await Session.create(driver.base, application, ["--no-autostart"]);
  } catch (e) {
    driver.stop();
    throw e;
  }
  t.after(async () => {
    await s.close();
    driver.stop();
  });
  return s;
}
