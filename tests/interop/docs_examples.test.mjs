// The book's command examples (docs/src/**/*.md) and the README's, run against the
// real `sockscope` so they cannot rot.
//
// Every fenced block in a shell language (console, sh, shell, bash) carries a mark in
// its info string:
//   ```console,run              each `$ ` line runs; the lines under it are its output
//   ```console,norun=REASON     not run, for one of the REASONS below (counted as skipped)
// A block with neither fails the test, so a new example is either run or says why not.
//
// A run block gets a fresh folder (a copy of docs/examples/, which holds the tokens
// the examples use), a fresh HOME and database, and `sockscope` on PATH; its commands
// run in order through bash in that folder.
// - A command ending in `&` runs in the background until the block ends; when it is
//   `sockscope serve` or `sockscope replay --mode server`, it is started on a free
//   port instead of the one written (`--port N`, else 3069) and waited for until it
//   prints `listening on URL`; `127.0.0.1:N` / `localhost:N` in the block's later
//   commands and output then mean that free port. Any other background command is
//   waited for until the lines under it have appeared (it is connected, subscribed).
//   At the end of the block each gets SIGTERM and must exit 0.
// - Output lines under a command must appear in its stdout in that order, or else in
//   its stderr in that order (other lines may come between). Runs of spaces compare
//   as one; `<anything>` in angle brackets matches any text; a line `...` is a reminder
//   that lines are left out. A gateway's lines are checked when it ends.
// - A command must exit 0, or with N when it ends in a comment `# exit N`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { sockscopeBin } from "./harness.mjs";

const ROOT = path.resolve(import.meta.dirname, "../..");
const EXAMPLES = path.join(ROOT, "docs/examples");
const SHELL_LANGS = new Set(["console", "sh", "shell", "bash"]);
/** Why an example may be left unrun: the only accepted reasons. */
const REASONS = {
  desktop: "opens the desktop app (a display; the GUI tests drive it)",
  remote: "needs a gateway, Redis or Admin UI server the test does not start",
  build: "builds or installs (cargo xtask, apt)",
  long: "runs until stopped, or for longer than a test should",
};
const COMMAND_MS = 120_000;
const LISTEN_MS = 30_000;
const DEFAULT_PORT = "3069";

/** The markdown files whose examples are run: README.md and the book's chapters. */
function sources() {
  const files = [path.join(ROOT, "README.md")];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".md")) files.push(p);
    }
  };
  walk(path.join(ROOT, "docs/src"));
  return files;
}

/** Fenced code blocks of a markdown text: {line, lang, flags, lines}. */
export function fencedBlocks(text) {
  const blocks = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^`]*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const [lang = "", ...flags] = info.trim().split(/[,\s]+/).filter(Boolean);
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const t = lines[j].trim();
      if (t.startsWith(fence[0].repeat(fence.length)) && /^(`+|~+)$/.test(t)) break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j].trimStart());
    }
    blocks.push({ line: i + 1, lang: lang.toLowerCase(), flags, lines: body });
    i = j;
  }
  return blocks;
}

/** The block's mark: {run: true} or {norun: REASON}, or null when unmarked. */
function mark(block) {
  if (block.flags.includes("run")) return { run: true };
  const norun = block.flags.find((f) => f.startsWith("norun"));
  if (norun) return { norun: norun.split("=")[1] ?? "" };
  return null;
}

/** The block's commands, each with the output lines written under it. */
export function steps(lines) {
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("$ ")) {
      let command = line.slice(2);
      while (command.endsWith("\\") && i + 1 < lines.length) {
        command = `${command.slice(0, -1).trimEnd()} ${lines[++i].trim()}`;
      }
      out.push({ command, expected: [] });
    } else if (out.length && line.trim() && line.trim() !== "...") {
      out.at(-1).expected.push(line);
    }
  }
  return out.map((s) => {
    // A trailing comment is for the reader, except `# exit N`, the exit code the
    // command must end with.
    const at = commentAt(s.command);
    const comment = at < 0 ? "" : s.command.slice(at);
    const code = /#\s*exit (\d+)\s*$/.exec(comment);
    const bare = (at < 0 ? s.command : s.command.slice(0, at)).trimEnd();
    const background = bare.endsWith("&") && !bare.endsWith("&&");
    return {
      ...s,
      bare: background ? bare.slice(0, -1).trimEnd() : bare,
      code: code ? Number(code[1]) : 0,
      background,
    };
  });
}

/** Where a shell comment starts in `command` (a `#` after a space, outside quotes), or -1. */
function commentAt(command) {
  let quote = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\\") i++;
    else if (c === "#" && i > 0 && /\s/.test(command[i - 1])) return i;
  }
  return -1;
}

const normalise = (s) => s.replace(/\s+/g, " ").trim();
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** An expected output line as an anchored pattern: `<...>` placeholders match any text. */
function pattern(expected) {
  const parts = normalise(expected).split(/(<[A-Za-z][^<>]*>)/);
  return new RegExp(`^${parts.map((p, i) => (i % 2 ? ".+?" : escape(p))).join("")}$`);
}

/** The expected lines not found, in order, in stdout (else stderr). */
function unmatched(expected, stdout, stderr) {
  const streams = [stdout, stderr].map((s) => ({ lines: s.split("\n").map(normalise), at: 0 }));
  const missing = [];
  for (const line of expected) {
    const re = pattern(line);
    const found = streams.some((s) => {
      const k = s.lines.findIndex((l, idx) => idx >= s.at && re.test(l));
      if (k < 0) return false;
      s.at = k + 1;
      return true;
    });
    if (!found) missing.push(line);
  }
  return missing;
}

/** A fresh folder, HOME and database for one block, with `sockscope` on PATH. */
function sandbox() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sockscope-docs-"));
  fs.cpSync(EXAMPLES, dir, { recursive: true });
  const bin = path.join(dir, ".bin");
  fs.mkdirSync(bin);
  fs.symlinkSync(path.resolve(sockscopeBin()), path.join(bin, "sockscope"));
  const home = path.join(dir, ".home");
  fs.mkdirSync(home);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(SOCKSCOPE_|SOCKET_IO_PORT$|USE_HTTPS$|CERT_PATH$|KEY_PATH$|RUST_LOG$|XDG_)/.test(k),
    ),
  );
  Object.assign(env, {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: home,
    XDG_DATA_HOME: path.join(home, ".local/share"),
    SOCKSCOPE_DB: path.join(dir, "sockscope.db"),
    NO_COLOR: "1",
  });
  return { dir, env };
}

/** `command` through bash in the block's folder; `exec` for a background one, so its
 * SIGTERM reaches the program itself. */
function spawnShell(command, box, background = false) {
  const child = spawn("bash", ["-c", background ? `exec ${command}` : command], {
    cwd: box.dir,
    env: box.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const result = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => (result.stdout += d));
  child.stderr.on("data", (d) => (result.stderr += d));
  // "close", not "exit": exit can come before the pipes are drained.
  result.closed = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return { child, result };
}

/** `promise`, or an error naming `what` (a string, or a function called at the time). */
function deadline(promise, ms, what) {
  let timer;
  const say = () => (typeof what === "function" ? what() : what);
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${say()}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

const report = (step, r) =>
  `\n$ ${step.command}\n--- exit: ${r.code ?? r.signal}\n--- stdout:\n${r.stdout}--- stderr:\n${r.stderr}`;

/** Runs one block's commands in order; throws on the first that does not do what the block says. */
async function runBlock(block) {
  const box = sandbox();
  const ports = new Map();
  const withPorts = (s) =>
    [...ports].reduce((acc, [doc, real]) => acc.replace(new RegExp(`(127\\.0\\.0\\.1|localhost):${doc}\\b`, "g"), `$1:${real}`), s);
  const background = [];
  try {
    for (const step of steps(block.lines)) {
      let command = withPorts(step.bare);
      const expected = step.expected.map(withPorts);
      if (!step.background) {
        const { child, result } = spawnShell(command, box);
        const status = await deadline(result.closed, COMMAND_MS, step.command).catch((e) => {
          child.kill("SIGKILL");
          throw e;
        });
        Object.assign(result, status);
        assert.equal(status.code, step.code, `exit code${report(step, result)}`);
        const missing = unmatched(expected, result.stdout, result.stderr);
        assert.deepEqual(missing, [], `output lines not found${report(step, result)}`);
        continue;
      }
      // A gateway in the background: on a free port, waited for until it listens.
      const listens = /^sockscope (serve|replay .*--mode server|proxy)\b/.test(command);
      const proxy = /^sockscope proxy\b/.test(command);
      let docPort;
      if (proxy) {
        // The capture proxy: `--listen 127.0.0.1:N` becomes a free port too.
        const m = /--listen[ =]127\.0\.0\.1:(\d+)/.exec(command);
        docPort = m ? m[1] : "3070";
        command = m ? command.replace(m[0], "--listen 127.0.0.1:0") : `${command} --listen 127.0.0.1:0`;
      } else if (listens) {
        const m = /--port[ =](\d+)/.exec(command);
        docPort = m ? m[1] : DEFAULT_PORT;
        command = m ? command.replace(m[0], "--port 0") : `${command} --port 0`;
      }
      const bg = spawnShell(command, box, true);
      background.push({ step, expected, ...bg });
      if (listens) {
        const url = await deadline(
          new Promise((resolve, reject) => {
            createInterface({ input: bg.child.stdout }).on("line", (l) => {
              const m = /^(?:proxy )?listening on https?:\/\/[^\s/]+:(\d+)/.exec(l);
              if (m) resolve(m[1]);
            });
            bg.result.closed.then((s) => reject(new Error(`exited before listening${report(step, { ...bg.result, ...s })}`)));
          }),
          LISTEN_MS,
          `${step.command} to print "listening on"`,
        );
        ports.set(docPort, url);
        // Its HTTP API (and the token file) is described right after; give it that moment.
        if (!proxy) await deadline(
          new Promise((resolve) => {
            const poll = setInterval(() => /^http api:/m.test(bg.result.stderr) && (clearInterval(poll), resolve()), 20);
            setTimeout(() => (clearInterval(poll), resolve()), 3_000);
          }),
          5_000,
          "http api line",
        );
        // The expected `listening on` line names the written port: map it too.
        background.at(-1).expected = step.expected.map(withPorts);
      } else if (expected.length) {
        // A background client: its lines say it is ready (connected, subscribed).
        await deadline(
          new Promise((resolve, reject) => {
            const poll = setInterval(() => {
              if (!unmatched(expected, bg.result.stdout, bg.result.stderr).length) {
                clearInterval(poll);
                resolve();
              }
            }, 20);
            bg.result.closed.then((s) => {
              clearInterval(poll);
              if (unmatched(expected, bg.result.stdout, bg.result.stderr).length)
                reject(new Error(`ended before printing its lines${report(step, { ...bg.result, ...s })}`));
              else resolve();
            });
          }),
          LISTEN_MS,
          () => `${step.command} to print its lines${report(step, bg.result)}`,
        );
      }
    }
  } finally {
    // Clients first, then the gateways they talk to.
    for (const bg of [...background].reverse()) {
      bg.child.kill("SIGTERM");
      const status = await deadline(bg.result.closed, 15_000, `${bg.step.command} to stop on SIGTERM`).catch((e) => {
        bg.child.kill("SIGKILL");
        throw e;
      });
      Object.assign(bg.result, status);
    }
    fs.rmSync(box.dir, { recursive: true, force: true });
  }
  for (const bg of background) {
    assert.equal(bg.result.code, 0, `exit code after SIGTERM${report(bg.step, bg.result)}`);
    const missing = unmatched(bg.expected, bg.result.stdout, bg.result.stderr);
    assert.deepEqual(missing, [], `output lines not found${report(bg.step, bg.result)}`);
  }
}

const all = sources().flatMap((file) =>
  fencedBlocks(fs.readFileSync(file, "utf8"))
    .filter((b) => SHELL_LANGS.has(b.lang))
    .map((b) => ({ ...b, where: `${path.relative(ROOT, file)}:${b.line}` })),
);

test("every shell block in the README and the book is marked run or norun=REASON", (t) => {
  const bad = all.filter((b) => {
    const m = mark(b);
    return !m || (m.norun !== undefined && !(m.norun in REASONS)) || (m.run && !steps(b.lines).length);
  });
  assert.deepEqual(
    bad.map((b) => `${b.where}: \`\`\`${[b.lang, ...b.flags].join(",")}`),
    [],
    `mark each block \`\`\`console,run or \`\`\`console,norun=REASON (${Object.keys(REASONS).join("|")}); a run block needs a "$ " command`,
  );
  const run = all.filter((b) => mark(b)?.run);
  t.diagnostic(`${run.length} blocks run (${run.reduce((n, b) => n + steps(b.lines).length, 0)} commands)`);
  for (const reason of Object.keys(REASONS)) {
    const skipped = all.filter((b) => mark(b)?.norun === reason);
    if (skipped.length) t.diagnostic(`${skipped.length} skipped by design, ${reason}: ${REASONS[reason]} (${skipped.map((b) => b.where).join(", ")})`);
  }
  assert.ok(run.length > 0, "no example is run at all");
});

for (const block of all.filter((b) => mark(b)?.run)) {
  test(`example ${block.where}`, () => runBlock(block));
}

test("every relative link and image in the README and the book names a file that exists", () => {
  const broken = [];
  for (const file of sources()) {
    const text = fs.readFileSync(file, "utf8");
    // Code blocks and inline code hold no links.
    const prose = text.replace(/^(\s*)(`{3,}|~{3,})[\s\S]*?^\1\2\s*$/gm, "").replace(/`[^`\n]*`/g, "");
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target) || target.startsWith("#")) continue;
      const local = path.resolve(path.dirname(file), decodeURI(target.split("#")[0]));
      if (!fs.existsSync(local)) broken.push(`${path.relative(ROOT, file)}: ${target}`);
    }
  }
  assert.deepEqual(broken, [], "links to files that do not exist");
});
