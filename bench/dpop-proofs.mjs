#!/usr/bin/env node
// DPoP proof maker for bench/run.sh's cc-dpop run (RFC 9449 §4.2): wrk's Lua cannot sign
// ES256, so the proofs are made here just before each wrk run, one a line, and
// bench/wrk/dpop.lua sends each once. Every proof is signed by the same P-256 key (kept in
// a file, so the warm-up and the measured run prove the same key), has a random jti, and is
// dated when it is signed: the server accepts a proof for 60 s after its iat, and only once.
// Node 20, its crypto module only.
//
//   node bench/dpop-proofs.mjs --key FILE --htu URL --count N --out FILE
//       Writes N proofs for "POST URL" to --out (with --count 1 and --out -, to stdout, for
//       a check with curl). Makes the key (PKCS #8 PEM) in --key first if there is none.
//       Prints one JSON line to stderr: {"proofs":…,"seconds":…,"per_second":…,"jkt":…}

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';

function fail(message) {
  process.stderr.write(`dpop-proofs.mjs: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { key: '', htu: '', count: 0, out: '' };
  const names = { '--key': 'key', '--htu': 'htu', '--count': 'count', '--out': 'out' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log('usage: dpop-proofs.mjs --key FILE --htu URL --count N --out FILE|-');
      process.exit(0);
    }
    const name = names[a];
    if (!name || i + 1 >= argv.length) fail(`unknown or incomplete option ${a} (see --help)`);
    const v = argv[++i];
    opts[name] = typeof opts[name] === 'number' ? Number(v) : v;
  }
  if (!opts.key || !opts.htu || !opts.out || !(Number.isInteger(opts.count) && opts.count > 0)) {
    fail('--key, --htu, --count (a positive whole number) and --out are needed');
  }
  return opts;
}

function loadKey(file) {
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  }
  return createPrivateKey(readFileSync(file));
}

const b64url = (data) => Buffer.from(data).toString('base64url');

const opts = parseArgs(process.argv.slice(2));
const privateKey = loadKey(opts.key);
const { kty, crv, x, y } = createPublicKey(privateKey).export({ format: 'jwk' });
const jwk = { kty, crv, x, y };
// RFC 7638: the thumbprint the server binds the tokens to, for the log.
const jkt = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
// The header is the same for every proof: encoded once.
const header = b64url(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk }));

const started = performance.now();
const fd = opts.out === '-' ? 1 : openSync(opts.out, 'w', 0o600);
let chunk = [];
for (let i = 0; i < opts.count; i++) {
  const claims = {
    jti: randomBytes(16).toString('base64url'),
    htm: 'POST',
    htu: opts.htu,
    iat: Math.floor(Date.now() / 1000),
  };
  const input = `${header}.${b64url(JSON.stringify(claims))}`;
  // JWS ES256 signatures are r || s, 64 bytes (RFC 7518 §3.4), not DER.
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  chunk.push(`${input}.${b64url(signature)}\n`);
  if (chunk.length === 1000 || i === opts.count - 1) {
    writeSync(fd, chunk.join(''));
    chunk = [];
  }
}
if (fd !== 1) closeSync(fd);
const seconds = (performance.now() - started) / 1000;
process.stderr.write(`${JSON.stringify({
  proofs: opts.count,
  seconds: Number(seconds.toFixed(2)),
  per_second: Math.round(opts.count / seconds),
  jkt,
})}\n`);
