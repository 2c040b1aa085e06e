// A Node socket.io 4.8 server for the durability tests (crates/cli/tests/durable.rs):
// on `start {rate, total, badAfter}` it emits `tick {i}` for i = 0..total-1 at `rate`
// events per second (bursts every 10 ms), then `done {sent}`. With `badAfter`, after
// that many ticks it writes one malformed Engine.IO frame ("9oops": no such packet
// type) straight onto the client's WebSocket, then keeps emitting. With `bigAt`, tick
// `bigAt` is preceded by a `big` event carrying a string of `bigSize` bytes.
// Usage: node durable-server.mjs [PORT]; prints `listening on http://127.0.0.1:PORT`.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
const http = createServer();
const io = new Server(http, { maxHttpBufferSize: 64 << 20 });

io.on("connection", (socket) => {
  socket.on("start", ({ rate = 1000, total = 1000, badAfter = -1, bigAt = -1, bigSize = 0 } = {}) => {
    let i = 0;
    const perTick = Math.max(1, Math.round(rate / 100));
    const timer = setInterval(() => {
      if (!socket.connected) return clearInterval(timer);
      for (let k = 0; k < perTick && i < total; k++, i++) {
        if (i === badAfter) socket.conn.transport.socket.send("9oops");
        if (i === bigAt) socket.emit("big", "x".repeat(bigSize));
        socket.emit("tick", { i });
      }
      if (i >= total) {
        clearInterval(timer);
        socket.emit("done", { sent: i });
      }
    }, 10);
  });
});

http.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${http.address().port}`);
});
