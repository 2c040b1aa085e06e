// Captures tests/interop/fixtures/dashboard.har, the HAR fixture of har.test.mjs.
//
// How it was produced: `cd tests/interop && npm ci && node capture-har.mjs` (Node 20+,
// socket.io and socket.io-client 4.8.4 from package.json). It starts a real socket.io
// server on 127.0.0.1 (random port) and a real socket.io-client with
// `transports: ["websocket"]`, an auth token, an `Authorization: Bearer` header, a
// cookie and a `token=` query parameter, on namespace /dashboard. The two talk:
// connect, events both ways, an ack, a binary upload (client -> server, acked) and a
// binary snapshot (server -> client), a ping/pong, then the client disconnects.
//
// Every frame is recorded on the client's side as it crosses the WebSocket: the
// prototype of the `ws` WebSocket class that engine.io-client uses is wrapped
// (`send` for frames going out, the `message` event for frames coming in), so the
// HAR holds the exact encoded wire text (Engine.IO + Socket.IO), and binary frames as
// base64 with opcode 2, which is what Chrome DevTools writes. The request line and
// headers are the ones the server received; the response is the real 101.
//
// The secrets in it are fake and exist so the importer's redaction can be tested:
// grep har.test.mjs for SECRETS before changing them. Rerunning rewrites the fixture
// (new port, ids and times); har.test.mjs reads its expectations from the file itself.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import { Server } from "socket.io";
import { io } from "socket.io-client";

export const SECRETS = {
  auth: "SECRET-AUTH-TOKEN-5f1c2e",
  bearer: "SECRET-BEARER-9a7d41",
  cookie: "SECRET-COOKIE-77be03",
  query: "SECRET-QUERY-TOKEN-c0ffee",
};

const WAIT_MS = 10_000;
const bounded = (promise, what) => {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Wall-clock seconds with microseconds, like Chrome's `time`.
const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1e6;

const toBuffer = (data) =>
  Buffer.isBuffer(data) ? data : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);

/**
 * Wraps the `ws` class engine.io-client really uses (it may have its own nested copy)
 * so every client frame lands in `frames`, and the 101 response in `seen.response`.
 */
function recordClientFrames(frames, seen) {
  const eioRequire = createRequire(import.meta.resolve("engine.io-client"));
  const { WebSocket: ClientWebSocket } = eioRequire("ws");
  const frame = (type, data, binary) =>
    frames.push(
      binary
        ? { type, time: now(), opcode: 2, data: toBuffer(data).toString("base64") }
        : { type, time: now(), opcode: 1, data: typeof data === "string" ? data : toBuffer(data).toString("utf8") },
    );
  const originalSend = ClientWebSocket.prototype.send;
  ClientWebSocket.prototype.send = function (data, ...rest) {
    if (this._isServer === false) frame("send", data, typeof data !== "string");
    return originalSend.call(this, data, ...rest);
  };
  const originalEmit = ClientWebSocket.prototype.emit;
  ClientWebSocket.prototype.emit = function (event, ...args) {
    if (this._isServer === false) {
      if (event === "message") frame("receive", args[0], args[1] === true);
      if (event === "upgrade") seen.response = args[0];
    }
    return originalEmit.call(this, event, ...args);
  };
}

async function capture() {
  const frames = [];
  const seen = { response: null };
  recordClientFrames(frames, seen);
  const http = createServer();
  const server = new Server(http, { pingInterval: 150, pingTimeout: 2000 });
  let request = null;
  server.engine.on("connection", (raw) => {
    request ??= raw.request;
  });
  const dashboard = server.of("/dashboard");
  dashboard.use((socket, next) =>
    socket.handshake.auth?.token === SECRETS.auth ? next() : next(new Error("unauthorized")),
  );
  dashboard.on("connection", (socket) => {
    socket.emit("dashboard:initial", {
      entityId: "event-uuid-123",
      entityType: "event",
      metrics: { attendees: 42, checkins: 17 },
      tiles: [{ id: "t1", kind: "counter" }],
    });
    socket.on("subscribe", (sub, ack) => {
      socket.join(`entity:${sub.entityId}`);
      ack({ ok: true, room: `entity:${sub.entityId}` });
      socket.emit("metric:update", { entityId: sub.entityId, metricName: "checkins", value: 18, timestamp: 1712345678000 });
      socket.emit("metric:update", { entityId: sub.entityId, metricName: "checkins", value: 19, timestamp: 1712345679000 });
    });
    socket.on("upload", (file, ack) => {
      ack({ ok: true, name: file.name, size: file.bytes.length });
      socket.emit("snapshot", { entityId: "event-uuid-123", png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) });
    });
    socket.on("unsubscribe", () => {});
  });
  await bounded(new Promise((r) => http.listen(0, "127.0.0.1", r)), "the server to listen");
  const port = http.address().port;

  const client = io(`http://127.0.0.1:${port}/dashboard`, {
    transports: ["websocket"],
    auth: { token: SECRETS.auth },
    query: { token: SECRETS.query },
    extraHeaders: { Authorization: `Bearer ${SECRETS.bearer}`, Cookie: `sid=${SECRETS.cookie}; theme=dark` },
    reconnection: false,
  });
  const metrics = [];
  let snapshot;
  const got = {
    initial: new Promise((r) => client.once("dashboard:initial", r)),
    metrics: new Promise((r) => client.on("metric:update", (m) => metrics.push(m) === 2 && r())),
    snapshot: new Promise((r) => client.once("snapshot", (s) => r((snapshot = s)))),
  };
  await bounded(new Promise((r, j) => { client.once("connect", r); client.once("connect_error", j); }), "connect");
  await bounded(got.initial, "dashboard:initial");
  const subAck = await bounded(client.timeout(WAIT_MS).emitWithAck("subscribe", { entityId: "event-uuid-123", entityType: "event" }), "the subscribe ack");
  if (!subAck.ok) throw new Error(`subscribe refused: ${JSON.stringify(subAck)}`);
  await bounded(got.metrics, "two metric:update");
  await sleep(250); // at least one ping/pong crosses
  const upAck = await bounded(
    client.timeout(WAIT_MS).emitWithAck("upload", { name: "logo.bin", bytes: Buffer.from("sockscope\u0000\u00ff", "latin1") }),
    "the upload ack",
  );
  if (upAck.size !== 11) throw new Error(`upload ack says ${JSON.stringify(upAck)}`);
  await bounded(got.snapshot, "the binary snapshot");
  if (!Buffer.isBuffer(snapshot.png)) throw new Error("snapshot.png is not binary");
  client.emit("unsubscribe", { entityId: "event-uuid-123" });
  await sleep(100);
  client.disconnect();
  await sleep(100);
  server.close();

  const { response } = seen;
  if (!request || !response) throw new Error("the upgrade request or response was not seen");
  if (!frames.some((f) => f.data === "2") || !frames.some((f) => f.data === "3")) {
    throw new Error("no ping/pong was captured");
  }
  const url = new URL(request.url, `ws://127.0.0.1:${port}`);
  const headers = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    headers.push({ name: request.rawHeaders[i], value: request.rawHeaders[i + 1] });
  }
  const cookieHeader = request.headers.cookie ?? "";
  const started = frames[0]?.time ?? now();
  return {
    log: {
      version: "1.2",
      creator: { name: "sockscope capture-har.mjs", version: "1.0" },
      pages: [],
      entries: [
        {
          startedDateTime: new Date(started * 1000).toISOString(),
          time: Math.round((frames.at(-1).time - started) * 1000),
          request: {
            method: "GET",
            url: url.href,
            httpVersion: "HTTP/1.1",
            headers,
            queryString: [...url.searchParams].map(([name, value]) => ({ name, value })),
            cookies: cookieHeader.split(";").map((c) => c.trim()).filter(Boolean).map((c) => {
              const [name, ...v] = c.split("=");
              return { name, value: v.join("=") };
            }),
            headersSize: -1,
            bodySize: 0,
          },
          response: {
            status: response.statusCode,
            statusText: response.statusMessage,
            httpVersion: "HTTP/1.1",
            headers: Object.entries(response.headers).map(([name, value]) => ({ name, value: String(value) })),
            cookies: [],
            content: { size: 0, mimeType: "x-unknown" },
            redirectURL: "",
            headersSize: -1,
            bodySize: 0,
          },
          cache: {},
          timings: { blocked: -1, dns: -1, ssl: -1, connect: -1, send: 0, wait: 0, receive: 0 },
          _resourceType: "websocket",
          _webSocketMessages: frames,
        },
      ],
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const har = await capture();
  const dir = new URL("./fixtures/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const out = new URL("./dashboard.har", dir);
  writeFileSync(out, JSON.stringify(har, null, 2) + "\n");
  console.log(`wrote ${out.pathname}: ${har.log.entries[0]._webSocketMessages.length} frames`);
  process.exit(0);
}
