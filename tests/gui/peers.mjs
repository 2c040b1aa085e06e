// Real socket.io 4.8 peers for the GUI tests: a stand-in staging gateway with HS256
// JWT auth on /dashboard, and a token minter that does not trust our own signer.
import { hs256Verify } from "../jwt.mjs";
import { createServer } from "node:http";
import { Server } from "socket.io";

export const SECRET = "gui-staging-secret";

export { hs256 } from "../jwt.mjs";

/**
 * JWT on /dashboard; `subscribe {entityId, count}` pushes `count` metric:update
 * events; `echo` acks with what it got; `set_tenant` always refuses (`{ok: false}`),
 * which a recording made against production (`{ok: true}`) shows as drift.
 * `received` lists every event the server got, in order.
 */
export async function stagingGateway() {
  const http = createServer();
  const io = new Server(http);
  const received = [];
  const dash = io.of("/dashboard");
  dash.use((socket, next) => {
    try {
      socket.data.claims = hs256Verify(SECRET, socket.handshake.auth?.token);
    } catch (e) {
      return next(e);
    }
    next();
  });
  dash.on("connection", (socket) => {
    socket.onAny((event, ...args) => received.push({ event, args: args.filter((a) => typeof a !== "function") }));
    socket.on("subscribe", ({ entityId, count = 3 } = {}) => {
      for (let i = 1; i <= count; i++) socket.emit("metric:update", { entityId, i, value: i * 10 });
    });
    socket.on("echo", (data, ack) => ack?.({ echo: data, tenant: socket.data.claims.tenantId }));
    socket.on("set_tenant", (data, ack) => ack?.({ ok: false, tenant: data?.tenantID }));
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${http.address().port}`,
    received,
    close: () => {
      io.close();
      http.close();
    },
  };
}
