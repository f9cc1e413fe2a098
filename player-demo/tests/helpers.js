// Shared by the browser tests: the real server binary on port 0 with a
// private data dir, Debian's chromium driven by playwright-core, accounts,
// a generated test video, and small waits.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, existsSync, createWriteStream, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const APP_DIR = resolve(here, '..');
export const REPO = resolve(APP_DIR, '..');
export const ARTIFACTS = join(REPO, 'test-artifacts');
const BINARY = process.env.SEALCAST_BIN || join(REPO, 'target/debug/sealcast');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Transcode settings small enough for a test: 2 s segments, a key every 2 segments. */
export const SMALL_TRANSCODE = {
  SEALCAST_SEGMENT_SECONDS: '2',
  SEALCAST_ROTATE_EVERY: '2',
  // Two rungs at or below the 320x180 test video (the ladder never upscales).
  SEALCAST_TRANSCODE_RUNGS: '180,120',
  SEALCAST_X264_PRESET: 'ultrafast',
  SEALCAST_WORKERS: '1',
};

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `sealcast-${prefix}-`));
}

/** The environment for the binary: ours only, nothing from the caller's SEALCAST_*. */
function serverEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('SEALCAST_') && !k.startsWith('AWS_')) env[k] = v;
  }
  return { ...env, RUST_LOG: 'info', ...extra };
}

/**
 * Starts `sealcast serve` on 127.0.0.1:0 and resolves once it prints
 * "sealcast listening on http://…". stop() kills it and removes its data.
 */
export async function startServer({ env = {}, webDir = join(APP_DIR, 'dist') } = {}) {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run cargo build first`);
  if (!existsSync(join(webDir, 'index.html'))) throw new Error(`${webDir} has no index.html: run npm run build first`);
  const root = tempDir('server');
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  const logPath = join(root, 'server.log');
  const log = createWriteStream(logPath);
  const fullEnv = serverEnv({ SEALCAST_DATA_DIR: dataDir, ...env });
  const child = spawn(BINARY, ['serve', '--listen', '127.0.0.1:0', '--web-dir', webDir], {
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.pipe(log);
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${readLog()}`)), 60000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^sealcast listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${readLog()}`));
    });
  });
  function readLog() {
    try {
      return readFileSync(logPath, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }
  return {
    url,
    dataDir,
    env: fullEnv,
    log: readLog,
    async stop() {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** `sealcast admin create-user … --password-stdin` against the server's data dir. */
export function createAdminCli(server, email, password) {
  const out = spawnSync(
    BINARY,
    ['admin', 'create-user', '--email', email, '--role', 'admin', '--password-stdin'],
    { env: server.env, input: `${password}\n`, encoding: 'utf8', timeout: 60000 },
  );
  if (out.status !== 0) {
    throw new Error(`admin create-user failed (${out.status}): ${out.stderr}${out.stdout}`);
  }
}

/** Chromium from Debian, headless, sandbox-free (containers), no background traffic. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright-core gives every launch a fresh, temporary --user-data-dir
    // of its own (and refuses one in args), so no profile state leaks in.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** A context that records every request its pages make. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, ...options });
  context.requests = [];
  context.on('request', (req) => context.requests.push({ url: req.url(), method: req.method(), headers: req.headers() }));
  return context;
}

/** Logs in through the page's form. */
export async function loginUi(page, baseUrl, email, password) {
  await page.goto(`${baseUrl}/login`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('whoami').waitFor({ timeout: 15000 });
}

/** JSON calls from the test itself (Node's fetch), for setup and checks. */
export async function apiLogin(baseUrl, email, password) {
  const resp = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!resp.ok) throw new Error(`login ${email}: ${resp.status} ${await resp.text()}`);
  return (await resp.json()).access_token;
}

export async function apiCall(baseUrl, token, method, path, body) {
  const resp = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${await resp.text()}`);
  return resp.status === 204 ? null : resp.json();
}

/** A short test video made with the ffmpeg CLI: colour bars with a clock, and a tone. */
export function makeVideo(path, { seconds = 20, bitrate = null } = {}) {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    ...(bitrate ? ['-b:v', bitrate, '-maxrate', bitrate, '-bufsize', bitrate] : []),
    '-c:a', 'aac', '-b:a', '64k', '-shortest', path,
  ];
  const out = spawnSync('ffmpeg', args, { encoding: 'utf8', timeout: 120000 });
  if (out.status !== 0) throw new Error(`ffmpeg failed: ${out.stderr}`);
  return path;
}

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** Every origin a list of recorded requests went to, other than `allowed`. */
export function foreignRequests(requests, allowedOrigin) {
  return requests
    .map((r) => r.url)
    .filter((u) => !u.startsWith('blob:') && !u.startsWith('data:'))
    .filter((u) => new URL(u).origin !== allowedOrigin);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
