// gxp over HTTPS/WSS, configured the seed's way (USE_HTTPS, CERT_PATH, KEY_PATH), with
// a certificate made here by openssl and verified by the client (no
// rejectUnauthorized: false).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io } from "socket.io-client";
import { request } from "node:https";
import { once, run, serve, withTimeout } from "./harness.mjs";

/** POST JSON over HTTPS, trusting only `ca`. */
function postJson(url, body, ca) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = request(url, { method: "POST", ca, headers: { "content-type": "application/json" } }, (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve(JSON.parse(text)));
      });
      req.on("error", reject);
      req.end(JSON.stringify(body));
    }),
    `POST ${url}`,
  );
}

function makeCert() {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-tls-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" });
  return { cert, key, dir };
}

test("gxp: USE_HTTPS + CERT_PATH + KEY_PATH serve real TLS that a verifying client accepts", async (t) => {
  const { cert, key } = makeCert();
  const srv = await serve(["--port", "0", "--profile", "gxp"], { USE_HTTPS: "true", CERT_PATH: cert, KEY_PATH: key });
  t.after(() => srv.child.kill("SIGKILL"));
  assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = readFileSync(cert);

  const socket = io(srv.url, { transports: ["websocket"], ca, reconnection: false });
  t.after(() => socket.close());
  await once(socket, "connect", "a TLS connection");
  const got = once(socket, "SocialStreamPostCreated");
  const answer = await postJson(`${srv.url}/templates/send`, { event: "SocialStreamPostCreated" }, ca);
  assert.equal(answer.channel, "private.SocialStream.social_stream_main");
  assert.equal(answer.delivered, 1);
  assert.equal((await got)[0].id, 789);
});

test("gxp: a wrong client CA is refused, and HTTPS without a key is a one-line error", async (t) => {
  const a = makeCert();
  const b = makeCert();
  const srv = await serve(["--port", "0", "--profile", "gxp", "--tls-cert", a.cert, "--tls-key", a.key]);
  t.after(() => srv.child.kill("SIGKILL"));
  const socket = io(srv.url, { transports: ["websocket"], ca: readFileSync(b.cert), reconnection: false });
  t.after(() => socket.close());
  const [err] = await once(socket, "connect_error", "a verification failure");
  assert.ok(err, "connected with an untrusted certificate");

  const half = await run(["serve", "--port", "0", "--profile", "gxp", "--tls-cert", a.cert]);
  assert.equal(half.code, 2);
  assert.match(half.stderr, /--tls-key/);
  const badKey = await run(["serve", "--port", "0", "--tls-cert", a.cert, "--tls-key", b.key]);
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /do not match/);
});
