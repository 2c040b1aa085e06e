// The peer in `cargo xtask bench gateway`: a plain Node socket.io 4.8 server with the
// same trigger as Sockscope's HTTP API (POST /emit {event, data} -> io.emit), so the
// same harness drives both.
import { createServer } from "node:http";
import { Server } from "socket.io";

const http = createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/emit") {
    res.writeHead(404).end();
    return;
  }
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    const { event, data } = JSON.parse(body);
    io.emit(event, data);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ delivered: io.engine.clientsCount }));
  });
});
const io = new Server(http, { transports: ["websocket"] });
http.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${http.address().port}`);
});
