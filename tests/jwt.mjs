// The one HS256 JWT helper of the Node harnesses (tests/interop and tests/gui):
// minted and checked here with node:crypto, so no test trusts Sockscope's own signer.
import { createHmac, timingSafeEqual } from "node:crypto";

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** The base64url HMAC-SHA256 of `signingInput` (`head.body`) with `secret`. */
export function hs256Sign(secret, signingInput) {
  return createHmac("sha256", secret).update(signingInput).digest("base64url");
}

/** An HS256 JWT of `claims` signed with `secret`. */
export function hs256(secret, claims) {
  const head = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}`;
  return `${head}.${hs256Sign(secret, head)}`;
}

/**
 * The claims of `token` when `secret` signed it; throws `missing token` (no
 * signature part) or `bad signature`, as a gateway's connect_error says it.
 */
export function hs256Verify(secret, token) {
  const [h, b, s] = String(token ?? "").split(".");
  if (!s) throw new Error("missing token");
  const want = Buffer.from(hs256Sign(secret, `${h}.${b}`), "base64url");
  const got = Buffer.from(s, "base64url");
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new Error("bad signature");
  return JSON.parse(Buffer.from(b, "base64url").toString());
}
