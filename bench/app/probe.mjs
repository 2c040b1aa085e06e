// `cargo xtask bench app`: one cold start of the desktop app through tauri-driver,
// the time until the window is interactive, then its idle memory.
//
// Interactive means the UI has painted the Server panel *and* answered an IPC round
// trip (the About line is filled from `cmd_about`): what a user needs before a click
// does something. The clock starts before the WebDriver session is requested, so the
// figure includes tauri-driver's and WebKitWebDriver's own start (it overstates).
// Memory is read from /proc after IDLE_MS of idleness for the app and every WebKit
// process it started: RSS (what `top` shows) and PSS (shared pages divided among the
// processes sharing them, so libraries are not counted three times).
import { readFileSync, readdirSync } from "node:fs";
import { startDriver, Session } from "../../tests/gui/webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;
const IDLE_MS = Number(process.env.IDLE_MS ?? 5000);
if (!app) throw new Error("SOCKSCOPE_APP_BIN is not set");

function procs() {
  const out = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const field = (k) => new RegExp(`^${k}:\\s*(\\S+)`, "m").exec(status)?.[1];
      out.push({ pid: Number(pid), ppid: Number(field("PPid")), name: field("Name"), rss: Number(field("VmRSS") ?? 0) });
    } catch {
      // gone
    }
  }
  return out;
}

function pss(pid) {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const driver = await startDriver(process.env.SOCKSCOPE_ARTIFACTS ?? "/tmp/sockscope-bench-app");
const t0 = performance.now();
let s;
try {
  s = await Session.create(driver.base, app, ["--no-autostart"]);
  await s.waitFor("#gateway-start", "the Server panel");
  await s.until(async () => (await s.text("#about")).length > 0, "the About line (an IPC round trip)");
  const interactive = performance.now() - t0;
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const all = procs();
  const base = app.split("/").pop().slice(0, 15);
  const main = all.find((p) => p.name === base);
  if (!main) throw new Error(`no process named ${base}`);
  // The app and its descendants (WebKit's web and network processes).
  const family = [main];
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!family.includes(p) && family.some((f) => f.pid === p.ppid)) {
        family.push(p);
        grew = true;
      }
    }
  }
  const processes = family.map((p) => ({ name: p.name, rss_kib: p.rss, pss_kib: pss(p.pid) }));
  const total = (k) => processes.reduce((a, p) => a + p[k], 0);
  console.log(
    JSON.stringify({
      interactive_ms: Math.round(interactive),
      rss_kib: total("rss_kib"),
      pss_kib: total("pss_kib"),
      processes,
    }),
  );
} finally {
  await s?.close();
  driver.stop();
}
