// `cargo xtask bench store`, end to end: a plain socket.io 4.8 server that, when the
// first client joins `/`, emits EVENTS `metric:update` events to it as fast as it
// can (batches of BATCH emits, yielding to the event loop between batches so the
// socket gets written), then prints one JSON line {sent, send_secs} and keeps
// serving until killed.
//
// Usage: node record-source.mjs EVENTS
import { createServer } from "node:http";
import { Server } from "socket.io";

const n = Number(process.argv[2] ?? "100000");
const BATCH = 256;
const http = createServer();
const io = new Server(http, { maxHttpBufferSize: 1e6 });
let started = false;
io.on("connection", async (socket) => {
  if (started) return;
  started = true;
  const t0 = performance.now();
  let sent = 0;
  while (sent < n) {
    const end = Math.min(n, sent + BATCH);
    for (; sent < end; sent += 1) {
      socket.emit("metric:update", {
        entityId: "event-uuid-123",
        metricName: "attendees",
        value: sent,
        timestamp: "2026-11-23T18:00:00.000Z",
      });
    }
    await new Promise((r) => setImmediate(r));
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ sent, send_secs: secs }));
});
http.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${http.address().port}`);
});
