// The gateway's HTTP API refuses every request without the right token, on every
// route of every profile: a table test over all routes (read from the Rust sources, so
// a route added later is covered or fails this test), each profile started with an API
// token, each route tried with no token, a wrong one, a truncated one, one with a byte
// appended, and the right one without the Bearer scheme. Positive control: the right
// token reaches each route's handler (anything but 401 and the router's own 404).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { serve } from "./harness.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const PROFILES = ["generic", "jet-admin", "analytics", "gxp", "steedos", "jac"];
const TOKEN = "ssk_apiauthtesttoken0123456789abcdef";

// Routes whose first argument is not a string literal, each with why it is not an
// operator route behind the API token.
const NON_API_ROUTES = {
  "jac.rs:PATH": "jac's plain WebSocket endpoint: clients authenticate in its handshake (tests/interop/jac.test.mjs)",
};

/** Every `.route(...)` in the Rust sources under crates/: [{ method, path }]. */
function routesInSources() {
  const found = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (name !== "target" && name !== "tests") walk(p);
      } else if (name.endsWith(".rs")) {
        const text = readFileSync(p, "utf8");
        for (const m of text.matchAll(/\.route\(\s*([^,]+),\s*(get|post|put|delete|patch)\(/g)) {
          const lit = /^"([^"]+)"$/.exec(m[1].trim());
          if (lit) found.push({ method: m[2].toUpperCase(), path: lit[1] });
          else found.push({ method: m[2].toUpperCase(), nonLiteral: `${name}:${m[1].trim()}` });
        }
      }
    }
  };
  walk(join(ROOT, "crates"));
  return found;
}

async function call(srv, { method, path }, authorization) {
  const headers = { "content-type": "application/json" };
  if (authorization !== undefined) headers.authorization = authorization;
  const res = await fetch(`${srv.url}${path}`, { method, headers, body: method === "GET" ? undefined : "{}" });
  const body = await res.text();
  return { status: res.status, body };
}

test("every route of every profile refuses a missing, wrong and truncated token", async (t) => {
  const sources = routesInSources();
  const odd = sources.filter((r) => r.nonLiteral && !NON_API_ROUTES[r.nonLiteral]);
  assert.deepEqual(odd, [], "a route with a computed path: add it to NON_API_ROUTES with why, or make it a literal");
  const routes = sources.filter((r) => r.path);
  assert.ok(routes.length >= 10, `only ${routes.length} routes found in the sources`);
  const bad = {
    "no Authorization header": undefined,
    "an empty bearer": "Bearer ",
    "a wrong token": `Bearer ssk_${"0".repeat(TOKEN.length - 4)}`,
    "the token truncated by one byte": `Bearer ${TOKEN.slice(0, -1)}`,
    "the token's first half": `Bearer ${TOKEN.slice(0, TOKEN.length / 2)}`,
    "the token with a byte appended": `Bearer ${TOKEN}x`,
    "the token without the Bearer scheme": TOKEN,
    "the token under another scheme": `Basic ${TOKEN}`,
  };
  const served = new Map(routes.map((r) => [`${r.method} ${r.path}`, []]));
  for (const profile of PROFILES) {
    const srv = await serve(["--port", "0", "--profile", profile, "--jwt-secret", "api-auth-secret", "--api-token", TOKEN]);
    t.after(() => srv.child.kill("SIGKILL"));
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      const good = await call(srv, route, `Bearer ${TOKEN}`);
      // The router's own 404 has no body; a handler's 404 (unknown namespace) names why.
      if (good.status === 404 && good.body === "") continue;
      assert.notEqual(good.status, 401, `${profile} ${key}: the right token was refused`);
      served.get(key).push(profile);
      for (const [what, authorization] of Object.entries(bad)) {
        const r = await call(srv, route, authorization);
        assert.equal(r.status, 401, `${profile} ${key} with ${what}: ${r.status} ${r.body}`);
      }
    }
    srv.child.kill("SIGKILL");
  }
  // Each route was tried on at least one profile that serves it.
  for (const [key, profiles] of served) assert.ok(profiles.length > 0, `no profile serves ${key}`);
  // The common API on every profile.
  for (const key of ["POST /emit", "POST /notify-users", "GET /templates", "POST /templates/send", "GET /inspect"]) {
    assert.deepEqual(served.get(key), PROFILES, key);
  }
});

test("with a JWT key and no --api-token, a generated token is required on every route", async (t) => {
  const srv = await serve(["--port", "0", "--profile", "steedos", "--jwt-secret", "api-auth-secret"]);
  t.after(() => srv.child.kill("SIGKILL"));
  assert.match(srv.apiToken ?? "", /^ssk_[0-9a-f]+$/, "serve named no generated token");
  for (const route of routesInSources().filter((r) => r.path)) {
    const good = await call(srv, route, `Bearer ${srv.apiToken}`);
    if (good.status === 404 && good.body === "") continue;
    assert.notEqual(good.status, 401, `${route.path}: the generated token was refused`);
    for (const authorization of [undefined, `Bearer ${srv.apiToken.slice(0, -1)}`, `Bearer ${TOKEN}`]) {
      assert.equal((await call(srv, route, authorization)).status, 401, `${route.method} ${route.path} with ${authorization}`);
    }
  }
});
