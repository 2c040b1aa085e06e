// The peer in `cargo xtask bench gateway` given both cores: a Node cluster of
// WORKERS (default 2) socket.io 4.8 workers behind `@socket.io/sticky` (the primary
// owns the port and hands each connection to a worker) with
// `@socket.io/cluster-adapter`, so `io.emit` in any worker reaches the sockets of
// every worker. POST /emit {event, data} -> io.emit, as in fanout-server.mjs.
import { emitRoute } from "./emit-route.mjs";
import cluster from "node:cluster";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { setupMaster, setupWorker } from "@socket.io/sticky";
import { createAdapter, setupPrimary } from "@socket.io/cluster-adapter";

const workers = Number(process.env.WORKERS || 2);

if (cluster.isPrimary) {
  const http = createServer();
  setupMaster(http, { loadBalancingMethod: "least-connection" });
  setupPrimary();
  // The cluster adapter passes binary packets between workers.
  cluster.setupPrimary({ serialization: "advanced" });
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on("message", (m) => {
      if (m === "ready" && ++ready === workers) {
        http.listen(0, "127.0.0.1", () => {
          console.log(`listening on http://127.0.0.1:${http.address().port}`);
        });
      }
    });
  }
} else {
  const http = createServer(emitRoute(() => io));
  const io = new Server(http, { transports: ["websocket"] });
  io.adapter(createAdapter());
  setupWorker(io);
  // Go when the primary goes (it may be killed without a chance to stop us).
  process.on("disconnect", () => process.exit(0));
  process.send("ready");
}
