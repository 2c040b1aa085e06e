// Shared helpers for the interop tests: start `sockscope serve`, mint HS256 tokens,
// wait for socket.io-client events with a deadline. Every wait is bounded.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

export const WAIT_MS = 10_000;

export function sockscopeBin() {
  const bin = process.env.SOCKSCOPE_BIN;
  if (!bin) throw new Error("SOCKSCOPE_BIN is not set: run these tests through `cargo xtask test`");
  return bin;
}

/** An HS256 JWT, minted in tests/jwt.mjs so the test does not trust our own signer. */
export { hs256 } from "../jwt.mjs";

export function withTimeout(promise, what, ms = WAIT_MS) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Starts `sockscope serve ARGS --json`, resolves once it printed its `listening on`
 * line. `lines` collects every later stdout line, `stderr` everything on stderr.
 */
export async function serve(args, env = {}) {
  const child = spawn(sockscopeBin(), ["serve", ...args, "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  const lines = [];
  let stderr = "";
  // `serve` says on stderr, right after it listens, how its HTTP API is reached:
  // wait for that line too, and keep a generated token for the tests' requests.
  let apiLine;
  const apiSeen = new Promise((resolve) => (apiLine = resolve));
  child.stderr.on("data", (d) => {
    stderr += d;
    const m = /^http api: (.*)\n/m.exec(stderr);
    if (m) apiLine(m[1]);
  });
  const rl = createInterface({ input: child.stdout });
  const url = await withTimeout(
    new Promise((resolve, reject) => {
      rl.on("line", (line) => {
        const m = /^listening on (https?:\/\/\S+)$/.exec(line);
        if (m) resolve(m[1]);
        else lines.push(line);
      });
      child.on("exit", (code) => reject(new Error(`sockscope serve exited with ${code}: ${stderr}`)));
    }),
    "sockscope serve to listen",
  );
  const api = await withTimeout(apiSeen, "sockscope serve to describe its HTTP API");
  const apiToken = /Bearer (ssk_[0-9a-f]+)/.exec(api)?.[1] ?? env.SOCKSCOPE_API_TOKEN;
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, url, lines, exited, stderr: () => stderr, apiToken };
}

/** POSTs JSON to a gateway's HTTP API with its token (when it has one). */
export async function apiPost(srv, path, body, token = srv.apiToken) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${srv.url}${path}`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

/** The id of the newest session called `name` in the database `db`. */
export async function lastSessionId(db, name) {
  const list = await run(["sessions", "list", "--db", db, "--json"]);
  if (list.code !== 0) throw new Error(`sessions list failed: ${list.stderr}`);
  const s = JSON.parse(list.stdout).filter((x) => x.name === name).at(-1);
  if (!s) throw new Error(`no session ${name} was recorded`);
  return s.id;
}

/** Runs `sockscope ARGS` to completion. */
export function run(args) {
  return withTimeout(
    new Promise((resolve) => {
      const child = spawn(sockscopeBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      // "close", not "exit": exit can fire before the pipes are drained, which lost stdout in CI.
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    }),
    `sockscope ${args.join(" ")}`,
  );
}

/** Resolves with the first `event` emitted by `emitter` (args as an array). */
export function once(emitter, event, what = event) {
  return withTimeout(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), what);
}

export async function eventually(check, what) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A raw Engine.IO v4 websocket to `url`: every frame goes on the wire exactly as
 * written, with no client library buffering or refusing it (socket.io-client keeps
 * a refused namespace's emits in its buffer and never sends them). Pings are
 * answered. `frame(pred)` waits for the first received frame matching `pred`.
 */
export async function rawEngineIo(url) {
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
  const frames = [];
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  ws.on("message", (data) => {
    const f = data.toString();
    if (f === "2") ws.send("3");
    else frames.push(f);
  });
  await withTimeout(
    new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    }),
    "a raw Engine.IO websocket to open",
  );
  const send = (f) => new Promise((resolve, reject) => ws.send(f, (e) => (e ? reject(e) : resolve())));
  const frame = (pred, what) => eventually(() => frames.find(pred), `${what} (frames so far: ${JSON.stringify(frames)})`);
  await frame((f) => f.startsWith("0{"), "the Engine.IO open packet");
  return { ws, frames, send, frame, closed, close: () => ws.close() };
}
