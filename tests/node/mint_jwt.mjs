// Mints JSON Web Tokens with an implementation switchboard did not write (the npm
// package `jsonwebtoken`, keys from Node's own crypto), for the Rust auth tests.
//
//   node mint_jwt.mjs keys DIR
//       writes DIR/rs256.pem, DIR/rs256.pub.pem, DIR/es256.pem, DIR/es256.pub.pem
//   node mint_jwt.mjs sign SPEC_JSON
//       SPEC: {"alg": "HS256"|"RS256"|"ES256"|"HS384"|"none",
//              "secret": "..."  (HMAC) or "key_file": "DIR/rs256.pem" (private key),
//              "claims": {...}} ; prints the token
//   node mint_jwt.mjs batch SPECS_JSON
//       SPECS: an array of SPEC; prints one token per line (one Node start for many).

import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import jwt from "jsonwebtoken";

function sign(spec) {
  let key = null;
  if (spec.alg !== "none") {
    key = spec.key_file ? readFileSync(spec.key_file) : spec.secret;
  }
  // `noTimestamp`: the claims say exactly what the test wants (an `iat` is harmless,
  // but a test of `nbf`/`exp` reads better without one it did not ask for).
  return jwt.sign(spec.claims, key, { algorithm: spec.alg, noTimestamp: true });
}

const [mode, arg] = process.argv.slice(2);
if (mode === "keys") {
  const pem = { type: "spki", format: "pem" };
  const priv = { type: "pkcs8", format: "pem" };
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(arg, "rs256.pem"), rsa.privateKey.export(priv));
  writeFileSync(join(arg, "rs256.pub.pem"), rsa.publicKey.export(pem));
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(join(arg, "es256.pem"), ec.privateKey.export(priv));
  writeFileSync(join(arg, "es256.pub.pem"), ec.publicKey.export(pem));
} else if (mode === "sign") {
  console.log(sign(JSON.parse(arg)));
} else if (mode === "batch") {
  for (const spec of JSON.parse(arg)) console.log(sign(spec));
} else {
  console.error("usage: mint_jwt.mjs keys DIR | sign SPEC_JSON | batch SPECS_JSON");
  process.exit(2);
}
