// The HTTP trigger both Node fan-out peers share, the same as Sockscope's API:
// POST /emit {event, data} -> io.emit(event, data), answered with `{delivered}`
// when `delivered` can count the recipients, `{}` otherwise.
export function emitRoute(io, delivered = () => undefined) {
  return (req, res) => {
    if (req.method !== "POST" || req.url !== "/emit") {
      res.writeHead(404).end();
      return;
    }
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const { event, data } = JSON.parse(body);
      io().emit(event, data);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ delivered: delivered() }));
    });
  };
}
