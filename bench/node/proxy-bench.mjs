// `cargo xtask bench proxy`: one Node process holds a socket.io 4.8 server and the
// socket.io-client 4.8 receivers, so send and receive times come from one clock
// (performance.now()). Each round measures the same thing twice, directly and
// through the proxy, in alternating order:
// - latency: the server emits RATE events/s for SECS s, each stamped when emitted;
//   the receiving client notes arrival - stamp (websocket transport);
// - throughput: the server emits FLOOD events as fast as it can; the client's rate
//   is FLOOD / (last arrival - first arrival).
// Usage: node proxy-bench.mjs SERVER_PORT PROXY_URL ROUNDS RATE SECS FLOOD OUT.json
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";
import { Server } from "socket.io";
import { io } from "socket.io-client";

const [port, proxyUrl, rounds, rate, secs, flood, out] = process.argv.slice(2);
const ROUNDS = Number(rounds);
const RATE = Number(rate);
const SECS = Number(secs);
const FLOOD = Number(flood);

const http = createServer();
const server = new Server(http);
server.on("connection", (socket) => {
  socket.on("stream", () => {
    const start = performance.now();
    const total = RATE * SECS;
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE));
      while (sent < due) {
        socket.emit("tick", { i: sent, t: performance.now(), v: Math.random() });
        sent++;
      }
      if (sent >= total) {
        clearInterval(timer);
        setTimeout(() => socket.emit("end"), 200);
      }
    }, 1);
  });
  socket.on("flood", () => {
    let sent = 0;
    const burst = () => {
      for (let k = 0; k < 500 && sent < FLOOD; k++, sent++) socket.emit("tick", { i: sent, v: 1 });
      if (sent < FLOOD) setImmediate(burst);
    };
    burst();
  });
});
await new Promise((resolve) => http.listen(Number(port), "127.0.0.1", resolve));
const direct = `http://127.0.0.1:${port}`;
console.log(`listening on ${direct}`);

async function waitFor(url) {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
}

function connect(url) {
  const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function latency(url) {
  const socket = await connect(url);
  const lat = [];
  await new Promise((resolve) => {
    socket.on("tick", (m) => lat.push(performance.now() - m.t));
    socket.once("end", resolve);
    socket.emit("stream");
  });
  socket.close();
  lat.sort((a, b) => a - b);
  return { received: lat.length, expected: RATE * SECS, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99), max_ms: lat.at(-1) };
}

async function throughput(url) {
  const socket = await connect(url);
  let n = 0;
  let first = 0;
  let last = 0;
  await new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`flood: ${n} of ${FLOOD} after 60 s`)), 60_000);
    socket.on("tick", () => {
      const now = performance.now();
      if (n === 0) first = now;
      last = now;
      if (++n === FLOOD) {
        clearTimeout(deadline);
        resolve();
      }
    });
    socket.emit("flood");
  });
  socket.close();
  return { events_per_sec: FLOOD / ((last - first) / 1000) };
}

await waitFor(direct);
await waitFor(proxyUrl);
// One warm-up of each path, not counted.
await latency(direct);
await latency(proxyUrl);
const results = [];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? ["direct", "proxy"] : ["proxy", "direct"];
  const round = { order };
  for (const path of order) {
    const url = path === "direct" ? direct : proxyUrl;
    round[path] = { ...(await latency(url)), ...(await throughput(url)) };
  }
  results.push(round);
  console.error(JSON.stringify(round));
}
writeFileSync(out, JSON.stringify({ rate: RATE, secs: SECS, flood: FLOOD, rounds: results }));
console.log("done");
await new Promise((r) => server.close(() => r()));
process.exit(0);
