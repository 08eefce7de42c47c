// Starts the Tessera release binary for a test file and provisions a user and a client.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TARGET_DIR = path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR || 'target');
export const BINARY = process.env.TESSERA_BIN
  ? path.resolve(REPO_ROOT, process.env.TESSERA_BIN)
  : path.join(TARGET_DIR, 'release', 'tessera');
export const SITE_ROOT = path.join(TARGET_DIR, 'site');

export const TENANT = 'default';
export const USER = { email: 'alice@example.com', name: 'Alice Example', password: 'correct horse battery staple 42' };
export const CLIENT = { id: 'e2e-app', name: 'E2E App' };

const handedOut = new Set();

/**
 * A port that was free a moment ago on 127.0.0.1, and not handed out before in this run: once
 * a probe closes, the OS may offer its port again while the first taker has not bound it yet
 * (the relying party's port went to Tessera once, and the relying party could not listen).
 */
export async function freePort() {
  for (;;) {
    const port = await probePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function probePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const children = new Set();
function killAll(signal = 'SIGKILL') {
  for (const child of children) {
    try { child.kill(signal); } catch { /* already gone */ }
  }
}
process.on('exit', () => killAll());
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAll(); process.exit(130); });
}

/** Runs a `tessera` CLI command against the same database; resolves with its stdout. */
export function runCli(args, env, stdin) {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    // A command that reads no input may exit before its (empty) input is written: that pipe
    // error says nothing about the command, whose exit code does.
    child.stdin.on('error', (e) => { if (e.code !== 'EPIPE') reject(e); });
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`tessera ${args.join(' ')} exited with ${code}\n--- stdout ---\n${out}\n--- stderr ---\n${err}`));
    });
    child.stdin.end(stdin ?? '');
  });
}

/**
 * Starts `tessera serve` on a free port with a fresh SQLite database, waits for
 * /healthz, then creates the test user and a confidential client whose redirect
 * URI points at the relying party's port.
 */
export async function startTessera({ rpPort, host = '127.0.0.1' }) {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} does not exist: run scripts/build.sh first`);
  if (!existsSync(path.join(SITE_ROOT, 'pkg'))) throw new Error(`${SITE_ROOT}/pkg does not exist: run scripts/build.sh first`);
  const port = await freePort();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tessera-e2e-'));
  // WebAuthn needs a domain name: passkey tests use `localhost`, which still reaches 127.0.0.1.
  const baseUrl = `http://${host}:${port}`;
  const env = {
    ...process.env,
    STORAGE_ADAPTER: 'sqlite',
    STORAGE_SQLITE_PATH: path.join(tmp, 'tessera.db'),
    TESSERA_LISTEN: `127.0.0.1:${port}`,
    TESSERA_PUBLIC_URL: baseUrl,
    LEPTOS_SITE_ROOT: SITE_ROOT,
    RUST_LOG: process.env.RUST_LOG || 'info',
  };

  const log = [];
  const child = spawn(BINARY, ['serve'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      children.delete(child);
      resolve(exited);
    });
  });
  child.on('error', (e) => { log.push(`[spawn error] ${e.message}`); });
  for (const [name, stream] of [['out', child.stdout], ['err', child.stderr]]) {
    let partial = '';
    stream.on('data', (d) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop();
      for (const line of lines) log.push(`[${name}] ${line}`);
    });
  }

  const server = {
    port,
    baseUrl,
    issuer: `${baseUrl}/t/${TENANT}`,
    tmp,
    env,
    /** Everything the server printed so far (stdout and stderr, prefixed). */
    output: () => log.join('\n'),
    tail: (n = 200) => log.slice(-n).join('\n'),
    lines: () => log.length,
    since: (start, max = 300) => log.slice(start).slice(-max).join('\n'),
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exitPromise;
        clearTimeout(timer);
      }
      await rm(tmp, { recursive: true, force: true });
    },
  };

  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`tessera serve exited early (${JSON.stringify(exited)})`);
      try {
        const res = await fetch(`${baseUrl}/healthz`);
        if (res.status === 200) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`GET ${baseUrl}/healthz did not return 200 within 30s`);
      await new Promise((r) => setTimeout(r, 200));
    }

    await runCli(
      ['user', 'create', '--tenant', TENANT, '--email', USER.email, '--name', USER.name, '--password-stdin'],
      env,
      `${USER.password}\n`,
    );
    const out = await runCli(
      ['client', 'create', '--tenant', TENANT, '--client-id', CLIENT.id, '--name', CLIENT.name,
        '--redirect-uri', `http://127.0.0.1:${rpPort}/callback`,
        '--scope', 'openid', '--scope', 'profile', '--scope', 'email'],
      env,
    );
    const m = out.match(/^\s*client_secret:\s*(\S+)\s*$/m);
    if (!m) throw new Error(`no "client_secret: ..." line in the output of tessera client create:\n${out}`);
    server.clientSecret = m[1];
  } catch (e) {
    const tail = server.tail();
    await server.stop();
    e.message += `\n--- tessera server output ---\n${tail}`;
    throw e;
  }
  return server;
}
