// The peer in `cargo xtask bench gateway`: a plain Node socket.io 4.8 server with the
// same trigger as Sockscope's HTTP API (POST /emit {event, data} -> io.emit), so the
// same harness drives both.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { emitRoute } from "./emit-route.mjs";

const http = createServer(emitRoute(() => io, () => io.engine.clientsCount));
const io = new Server(http, { transports: ["websocket"] });
http.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${http.address().port}`);
});
