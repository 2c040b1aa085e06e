// A stand-in for a real gateway, on Node socket.io 4.8: HS256 JWT (auth.token) on
// /dashboard; `subscribe {entityId, count}` answers with `count` metric:update events
// numbered 1..count; `echo` acks with {echo: args}. Usage: node staging-server.mjs
// [PORT] [SECRET]; prints `listening on http://127.0.0.1:PORT`.
import { createServer } from "node:http";
import { hs256Verify } from "../jwt.mjs";
import { Server } from "socket.io";
import { metric } from "./staging-data.mjs";

const port = Number(process.argv[2] ?? 0);
const secret = process.argv[3] ?? "staging-secret";

function verify(token) {
  return hs256Verify(secret, token);
}


const http = createServer();
const io = new Server(http);
const dash = io.of("/dashboard");
dash.use((socket, next) => {
  try {
    socket.data.claims = verify(socket.handshake.auth?.token);
    next();
  } catch (e) {
    next(new Error(e.message));
  }
});
dash.on("connection", (socket) => {
  socket.on("subscribe", ({ entityId, count = 10 } = {}) => {
    for (let i = 1; i <= count; i++) socket.emit("metric:update", metric(entityId, i));
  });
  socket.on("echo", (...args) => {
    const ack = typeof args.at(-1) === "function" ? args.pop() : null;
    ack?.({ echo: args, tenant: socket.data.claims.tenantId });
  });
});
http.listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${http.address().port}`));
