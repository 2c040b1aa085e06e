// Server-side inspection filters, paging and counts (`GET /inspect/sockets`,
// `GET /inspect/counts`, `sockscope inspect --room/--tenant/... --limit --cursor
// --counts`) against `sockscope serve` with real socket.io-client 4.8 sockets of
// known tenant, user, role, transport, namespace and room: each filter returns
// exactly the sockets it should (control: the others exist in the unfiltered
// answer), pages cover every socket exactly once, counts are the real numbers.
// Also: refused handshakes are published as `connect_error` records with their
// reason and without the token (control: an accepted one is a `connect`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { eventually, hs256, once, run, serve, withTimeout } from "./harness.mjs";

const SECRET = "inspect-filters-secret";

function connect(url, ns, token, transport) {
  return io(url + ns, { auth: { token }, transports: [transport], reconnection: false, forceNew: true });
}

async function getJson(srv, path) {
  const headers = srv.apiToken ? { authorization: `Bearer ${srv.apiToken}` } : {};
  const res = await fetch(`${srv.url}${path}`, { headers });
  const body = await res.json();
  return { status: res.status, body };
}

/** The matching sockets, as `namespace id` strings, over every page of `params`. */
async function allPages(srv, params, limit) {
  const seen = [];
  let cursor;
  for (let i = 0; i < 1000; i++) {
    const q = new URLSearchParams(params);
    q.set("limit", String(limit));
    if (cursor) q.set("cursor", cursor);
    const { status, body } = await getJson(srv, `/inspect/sockets?${q}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(body.sockets.length <= limit);
    seen.push(...body.sockets.map((s) => `${s.namespace} ${s.id}`));
    if (!body.next_cursor) return { seen, total: body.total };
    cursor = body.next_cursor;
  }
  throw new Error("paging did not end");
}

test("inspect filters, pages and counts on the gateway, with real clients", async (t) => {
  const srv = await serve(["--port", "0", "--jwt-secret", SECRET, "--namespace", "/dashboard"]);
  t.after(() => srv.child.kill("SIGKILL"));

  // 16 sockets: namespace x tenant x role x transport, users cycling, every other
  // one subscribed to `orders`.
  const people = [];
  let n = 0;
  for (const ns of ["/", "/dashboard"]) {
    for (const tenant of ["acme", "globex"]) {
      for (const role of ["admin", "viewer"]) {
        for (const transport of ["websocket", "polling"]) {
          const user = ["ann", "bob", "cid"][n % 3];
          const token = hs256(SECRET, { sub: user, tenantId: tenant, role });
          people.push({ ns, tenant, role, transport, user, orders: n % 2 === 0, token, socket: connect(srv.url, ns, token, transport) });
          n++;
        }
      }
    }
  }
  t.after(() => people.forEach((p) => p.socket.close()));
  await Promise.all(people.map((p, i) => once(p.socket, "connect", `socket ${i} to connect`)));
  for (const p of people.filter((p) => p.orders)) {
    assert.deepEqual(await withTimeout(p.socket.emitWithAck("subscribe", { room: "orders" }), "subscribe ack"), { ok: true, room: "orders" });
  }
  const key = (p) => `${p.ns} ${p.socket.id}`;
  const everyone = people.map(key).sort();

  // Unfiltered: every socket once, with its data (the token's claims, not the token).
  const all = await getJson(srv, "/inspect/sockets?limit=1000");
  assert.equal(all.status, 200);
  assert.equal(all.body.total, people.length);
  assert.deepEqual(all.body.sockets.map((s) => `${s.namespace} ${s.id}`), everyone);
  const byKey = new Map(all.body.sockets.map((s) => [`${s.namespace} ${s.id}`, s]));
  for (const p of people) {
    const s = byKey.get(key(p));
    assert.equal(s.data.role, p.role);
    assert.equal(s.transport, p.transport);
    assert.ok(!JSON.stringify(s).includes(p.token), "a token leaked into the inspection");
  }
  const ordersRoom = byKey.get(key(people[0])).rooms.find((r) => r.endsWith("orders"));
  assert.ok(ordersRoom, "the subscribed socket is in an orders room");

  const idPrefix = people[5].socket.id.slice(0, 6);
  const filters = [
    [{ namespace: "/dashboard" }, (p) => p.ns === "/dashboard"],
    [{ tenant: "globex" }, (p) => p.tenant === "globex"],
    [{ user: "bob" }, (p) => p.user === "bob"],
    [{ transport: "polling" }, (p) => p.transport === "polling"],
    [{ "data.role": "admin" }, (p) => p.role === "admin"],
    [{ room: ordersRoom }, (p) => p.orders && p.tenant === "acme"],
    [{ id: idPrefix }, (p) => p.socket.id.startsWith(idPrefix)],
    [{ tenant: "acme", "data.role": "viewer", namespace: "/" }, (p) => p.tenant === "acme" && p.role === "viewer" && p.ns === "/"],
  ];
  for (const [params, want] of filters) {
    const expected = people.filter(want).map(key).sort();
    const others = people.filter((p) => !want(p)).map(key);
    // Control: the filter keeps some sockets, and the ones it drops exist unfiltered.
    assert.ok(expected.length > 0, JSON.stringify(params));
    if (!("id" in params)) assert.ok(others.length > 0 && others.every((k) => byKey.has(k)), JSON.stringify(params));
    const { status, body } = await getJson(srv, `/inspect/sockets?${new URLSearchParams({ ...params, limit: "1000" })}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.sockets.map((s) => `${s.namespace} ${s.id}`), expected, JSON.stringify(params));
    assert.equal(body.total, expected.length);
  }
  const none = await getJson(srv, "/inspect/sockets?user=nobody");
  assert.deepEqual([none.body.total, none.body.sockets], [0, []]);

  // Paging: every socket exactly once, for several page sizes and a filter.
  for (const limit of [1, 3, 5, 16]) {
    const { seen, total } = await allPages(srv, {}, limit);
    assert.equal(total, people.length);
    assert.deepEqual(seen, everyone, `limit ${limit}`);
  }
  const admins = await allPages(srv, { "data.role": "admin" }, 3);
  assert.deepEqual(admins.seen, people.filter((p) => p.role === "admin").map(key).sort());

  // Counts, server-side, equal the real numbers.
  const counts = (await getJson(srv, "/inspect/counts")).body;
  assert.equal(counts.sockets, 16);
  assert.equal(counts.namespaces["/"].sockets, 8);
  assert.equal(counts.namespaces["/dashboard"].sockets, 8);
  assert.equal(counts.tenants.acme, 8);
  assert.equal(counts.tenants.globex, 8);
  assert.equal(counts.no_tenant, 0);
  for (const ns of ["/", "/dashboard"]) {
    const inRoom = people.filter((p) => p.ns === ns && p.orders && p.tenant === "acme").length;
    assert.equal(counts.namespaces[ns].rooms[ordersRoom], inRoom, ns);
  }
  const globexAdmins = (await getJson(srv, "/inspect/counts?tenant=globex&data.role=admin")).body;
  assert.equal(globexAdmins.sockets, people.filter((p) => p.tenant === "globex" && p.role === "admin").length);
  assert.deepEqual(Object.keys(globexAdmins.tenants), ["globex"]);

  // Bad parameters get a 400 naming the problem (control: the valid ones above got 200).
  for (const [q, code] of [["limit=abc", "bad_limit"], ["colour=red", "unknown_parameter"], ["cursor=zzz", "bad_cursor"]]) {
    const bad = await getJson(srv, `/inspect/sockets?${q}`);
    assert.equal(bad.status, 400, q);
    assert.equal(bad.body.code, code, q);
  }

  // The old whole snapshot still answers.
  const snap = (await getJson(srv, "/inspect")).body;
  assert.equal(snap.namespaces.reduce((sum, ns) => sum + ns.sockets.length, 0), 16);

  // The CLI: filters, paging and counts.
  const cli = (args) => run(["inspect", "--url", srv.url, ...(srv.apiToken ? ["--api-token", srv.apiToken] : []), ...args]);
  const page = await cli(["--namespace", "/dashboard", "--tenant", "acme", "--transport", "websocket", "--data", "role=admin", "--json"]);
  assert.equal(page.code, 0, page.stderr);
  const got = JSON.parse(page.stdout);
  const want = people.filter((p) => p.ns === "/dashboard" && p.tenant === "acme" && p.transport === "websocket" && p.role === "admin");
  assert.deepEqual(got.sockets.map((s) => s.id), want.map((p) => p.socket.id));
  const first = JSON.parse((await cli(["--limit", "10", "--json"])).stdout);
  assert.equal(first.sockets.length, 10);
  const rest = JSON.parse((await cli(["--limit", "10", "--cursor", first.next_cursor, "--json"])).stdout);
  assert.deepEqual([...first.sockets, ...rest.sockets].map((s) => `${s.namespace} ${s.id}`), everyone);
  assert.equal(rest.next_cursor, undefined);
  const cliCounts = await cli(["--counts", "--user", "ann", "--json"]);
  assert.equal(cliCounts.code, 0, cliCounts.stderr);
  assert.equal(JSON.parse(cliCounts.stdout).sockets, people.filter((p) => p.user === "ann").length);
  const text = await cli(["--counts"]);
  assert.match(text.stdout, /^16 sockets$/m);
  const badData = await cli(["--data", "role"]);
  assert.notEqual(badData.code, 0);
  assert.match(badData.stderr, /KEY=VALUE/);
});

test("refused handshakes are published as connect_error with the reason and no token", async (t) => {
  const srv = await serve(["--port", "0", "--jwt-secret", SECRET, "--namespace", "/dashboard"]);
  t.after(() => srv.child.kill("SIGKILL"));
  const wrong = hs256("not-the-secret", { sub: "mallory", tenantId: "acme" });
  const good = hs256(SECRET, { sub: "ann", tenantId: "acme" });

  const refused = connect(srv.url, "/dashboard", wrong, "websocket");
  const missing = io(`${srv.url}/dashboard`, { transports: ["websocket"], reconnection: false, forceNew: true });
  const ok = connect(srv.url, "/dashboard", good, "websocket");
  t.after(() => [refused, missing, ok].forEach((s) => s.close()));
  const [[err], [err2]] = await Promise.all([
    once(refused, "connect_error", "the wrong token to be refused"),
    once(missing, "connect_error", "the missing token to be refused"),
    once(ok, "connect", "the good token to connect"),
  ]);
  assert.match(err.message, /bad signature/);
  assert.match(err2.message, /missing token/);

  const records = () => srv.lines.map((l) => JSON.parse(l));
  const errors = await eventually(() => {
    const e = records().filter((r) => r.event === "connect_error");
    return e.length >= 2 ? e : undefined;
  }, "two connect_error records");
  assert.equal(errors.length, 2, JSON.stringify(errors));
  for (const e of errors) {
    assert.equal(e.direction, "s2c");
    assert.equal(e.namespace, "/dashboard");
  }
  assert.ok(errors.some((e) => /bad signature/.test(e.args[0])), JSON.stringify(errors));
  assert.ok(errors.some((e) => /missing token/.test(e.args[0])), JSON.stringify(errors));
  const out = srv.lines.join("\n");
  assert.ok(!out.includes(wrong), "the refused token leaked into the output");
  assert.ok(!out.includes(good), "the good token leaked into the output");

  // A namespace the gateway does not serve: refused with socketioxide's own message,
  // published too, and still refused after its stand-in namespace is deleted.
  for (const attempt of [1, 2]) {
    const stray = io(`${srv.url}/nope`, { auth: { token: good }, transports: ["websocket"], reconnection: false, forceNew: true });
    t.after(() => stray.close());
    const [e] = await once(stray, "connect_error", `the unknown namespace to be refused (attempt ${attempt})`);
    assert.match(e.message, /invalid namespace/i);
    await eventually(
      () => records().filter((r) => r.event === "connect_error" && r.namespace === "/nope").length === attempt || undefined,
      `connect_error record ${attempt} for /nope`,
    );
    if (attempt === 1) await new Promise((r) => setTimeout(r, 1500));
  }
  const strayRec = records().find((r) => r.event === "connect_error" && r.namespace === "/nope");
  assert.equal(strayRec.direction, "s2c");
  assert.match(strayRec.args[0], /invalid namespace/i);
  const snap = await (await fetch(`${srv.url}/inspect`, { headers: srv.apiToken ? { authorization: `Bearer ${srv.apiToken}` } : {} })).json();
  assert.deepEqual(snap.namespaces.map((n) => n.name).sort(), ["/", "/dashboard"]);

  // Control: the accepted socket is a connect, and no connect_error is about it.
  const connect_ = await eventually(
    () => records().find((r) => r.event === "connect" && r.socket_id === ok.id),
    "the good socket's connect record",
  );
  assert.equal(connect_.user, "ann");
  assert.ok(!errors.some((e) => e.socket_id === ok.id));
});
