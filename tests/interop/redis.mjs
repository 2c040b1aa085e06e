// A real redis-server for the cluster tests: started on a free loopback port with its
// own temporary data dir and no persistence, stopped (and its dir removed) at the end.
// Nothing assumes a Redis already running; `cargo xtask test` installs Debian's
// redis-server when it is missing.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withTimeout } from "./harness.mjs";

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with Redis' answer to one inline command (e.g. PING), or rejects. */
export function redisCommand(port, command) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const sock = connect(port, "127.0.0.1");
      let out = "";
      sock.on("connect", () => sock.write(`${command}\r\n`));
      sock.on("data", (d) => {
        out += d;
        if (out.endsWith("\r\n")) {
          sock.end();
          resolve(out.trim());
        }
      });
      sock.on("error", reject);
    }),
    `redis ${command}`,
    3000,
  );
}

/**
 * Starts `redis-server` (REDIS_SERVER or the one on PATH); resolves once it answers
 * PING. Returns `{ url, port, child, stop() }`; `stop()` kills it and removes its dir.
 */
export async function startRedis(extraArgs = []) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sockscope-redis-"));
  const bin = process.env.REDIS_SERVER || "redis-server";
  const child = spawn(
    bin,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const spawnFailed = new Promise((_, reject) =>
    child.on("error", (e) => reject(new Error(`cannot start ${bin} (install Debian's redis-server): ${e.message}`))),
  );
  const ready = (async () => {
    for (;;) {
      try {
        // A server with requirepass answers NOAUTH: it is up all the same.
        if (/^(\+PONG|-NOAUTH)/.test(await redisCommand(port, "PING"))) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await withTimeout(Promise.race([ready, spawnFailed]), `redis-server on port ${port} (log: ${log})`);
  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    child,
    exited,
    log: () => log,
    /** Kills the server (SIGKILL: no goodbye to its clients) and waits for it. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await withTimeout(exited, "redis-server to exit");
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await this.kill().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
