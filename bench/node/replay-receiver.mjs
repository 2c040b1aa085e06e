// `cargo xtask bench replay`: the receiving client. A socket.io-client 4.8 socket
// (websocket transport) on URL's `/` namespace notes when each `tick` event {i}
// arrives (CLOCK_REALTIME, microseconds) and, after EVENTS of them or TIMEOUT_S,
// writes the arrival error against the plan (event i planned SPACING_US * i after
// the first) to OUT as one JSON object.
//
// Usage: node replay-receiver.mjs URL EVENTS SPACING_US OUT [TIMEOUT_S]
import { writeFileSync } from "node:fs";
import { io } from "socket.io-client";
import { summarize } from "./replay-stats.mjs";

const [url, events, spacing, out, timeout = "120"] = process.argv.slice(2);
const n = Number(events);
const arrivals = new Float64Array(n).fill(NaN);
let received = 0;
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;
const socket = io(url, { transports: ["websocket"], reconnection: false });
const finish = () => {
  writeFileSync(out, JSON.stringify(summarize(arrivals, Number(spacing), received)));
  socket.close();
  process.exit(0);
};
socket.on("tick", (ev) => {
  const t = nowUs();
  if (ev && Number.isInteger(ev.i) && ev.i >= 0 && ev.i < n && Number.isNaN(arrivals[ev.i])) {
    arrivals[ev.i] = t;
    received += 1;
    if (received === n) finish();
  }
});
socket.on("connect_error", (e) => console.error(`replay-receiver: ${e.message}`));
setTimeout(finish, Number(timeout) * 1000);
