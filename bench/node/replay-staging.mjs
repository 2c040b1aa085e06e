// `cargo xtask bench replay`, client replay: a plain socket.io 4.8 staging server
// that notes when each `tick` event {i} from any client arrives and, after EVENTS
// of them or TIMEOUT_S, writes the arrival error (see replay-stats.mjs) to OUT.
//
// Usage: node replay-staging.mjs EVENTS SPACING_US OUT [TIMEOUT_S]
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";
import { Server } from "socket.io";
import { summarize } from "./replay-stats.mjs";

const [events, spacing, out, timeout = "120"] = process.argv.slice(2);
const n = Number(events);
const arrivals = new Float64Array(n).fill(NaN);
let received = 0;
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;
const finish = () => {
  writeFileSync(out, JSON.stringify(summarize(arrivals, Number(spacing), received)));
  process.exit(0);
};
const http = createServer();
const io = new Server(http);
io.on("connection", (socket) => {
  socket.on("tick", (ev) => {
    const t = nowUs();
    if (ev && Number.isInteger(ev.i) && ev.i >= 0 && ev.i < n && Number.isNaN(arrivals[ev.i])) {
      arrivals[ev.i] = t;
      received += 1;
      if (received === n) setImmediate(finish);
    }
  });
});
http.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${http.address().port}`);
  setTimeout(finish, Number(timeout) * 1000);
});
