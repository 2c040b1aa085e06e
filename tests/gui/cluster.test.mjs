// The Server panel's "Cluster (Redis URL)" field in the real window (WebKitGTK under
// Xvfb, tauri-driver): the app's gateway joins a real redis-server (started here on a
// free port, see tests/interop/redis.mjs), the panel names the node and the link, says
// when Redis is lost, and an unreachable Redis is a one-line error naming the URL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { freePort, startRedis } from "../interop/redis.mjs";
import { openApp } from "./webdriver.mjs";

const app = process.env.SOCKSCOPE_APP_BIN;

test("Server panel: the gateway joins a cluster, and the panel says when Redis is lost", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set: run through `cargo xtask test`");
  const redis = await startRedis();
  t.after(() => redis.stop());
  const s = await openApp(t);

  await s.waitFor("#gateway-start", "the Server panel");
  await s.type("#gateway-port", "0");
  await s.type("#gateway-redis", redis.url);
  await s.click("#gateway-start");
  await s.until(async () => (await s.text("#gateway-state")) === "running", "the gateway to run");
  const linked = new RegExp(`cluster node \\S+ · connected to ${redis.url.replace(/[.]/g, "\\.")}`);
  await s.until(async () => linked.test(await s.innerText("#gateway-cluster")), "the cluster line");

  await redis.kill();
  await s.until(async () => /redis lost/.test(await s.innerText("#gateway-cluster")), "the panel to say Redis is lost");
  // Still serving its own sockets: the gateway runs on.
  assert.equal(await s.text("#gateway-state"), "running");
  await s.click("#gateway-stop");
  await s.until(async () => (await s.text("#gateway-state")) === "stopped", "the gateway to stop");
});

test("Server panel: an unreachable Redis is a one-line error naming the URL", async (t) => {
  assert.ok(app, "SOCKSCOPE_APP_BIN is not set");
  const url = `redis://127.0.0.1:${await freePort()}`;
  const s = await openApp(t);
  await s.waitFor("#gateway-start", "the Server panel");
  await s.type("#gateway-port", "0");
  await s.type("#gateway-redis", url);
  await s.click("#gateway-start");
  await s.waitFor("#error-banner", "the error banner");
  assert.match(await s.text("#error-banner"), new RegExp(`cannot join the cluster through Redis at ${url.replace(/[.]/g, "\\.")}`));
  assert.equal(await s.text("#gateway-state"), "stopped");
});
