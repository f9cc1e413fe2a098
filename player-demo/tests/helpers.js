// The browser tests' one kit. `useKit(name, options)` gives a test file its
// world before its tests run and takes it down after: the real server binary
// on port 0 with a private data dir, an admin made with the CLI, the users and
// the course the scenario starts from, Debian's chromium driven by
// playwright-core, and test media. Tests wait for what they can observe,
// with a deadline (`waitUntil`, playwright's waits), never for a fixed time.

import { before, after } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, existsSync, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const APP_DIR = resolve(here, '..');
const REPO = resolve(APP_DIR, '..');
const ARTIFACTS = join(REPO, 'test-artifacts');
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

/**
 * The scenario's world for this test file, started in `before` and stopped in
 * `after`. `users` are roles ('creator', 'learner') made through the API;
 * `course` is a title the first creator makes, with every learner enrolled.
 */
export function useKit(name, options = {}) {
  const kit = new Kit(name, options);
  before(() => kit.start());
  after(() => kit.close());
  return kit;
}

class Kit {
  constructor(name, { env = {}, users = [], course = null } = {}) {
    this.name = name;
    this.env = env;
    this.users = users;
    this.courseTitle = course;
    this.courseId = null;
    this.server = null;
    this.browser = null;
    this.contexts = [];
    this.media = null;
  }

  /** The account a role plays in this scenario (made or not). */
  account(role) {
    return { email: `${role}@${this.name}.test`, password: `${role}-password-1`, role };
  }

  get url() {
    return this.server.url;
  }

  async start() {
    this.media = mkdtempSync(join(tmpdir(), `sealcast-${this.name}-media-`));
    this.server = await startServer(this.env);
    createAdminCli(this.server, this.account('admin'));
    for (const role of this.users) {
      const { email, password } = this.account(role);
      await this.api('admin', 'POST', '/api/v1/users', { email, password, role });
    }
    if (this.courseTitle) {
      const course = await this.api('creator', 'POST', '/api/v1/courses', { title: this.courseTitle });
      this.courseId = course.id;
      for (const role of this.users.filter((r) => r === 'learner')) {
        await this.api('creator', 'POST', `/api/v1/courses/${course.id}/enrollments`, { email: this.account(role).email });
      }
    }
    this.browser = await launchBrowser();
  }

  /** Closes what the tests left open, stops the server and removes its data; fails if the server died on the way. */
  async close() {
    for (const context of this.contexts) await context.close().catch(() => {});
    await this.browser?.close();
    const died = this.server?.exitCode();
    await this.server?.stop();
    if (this.media) rmSync(this.media, { recursive: true, force: true });
    if (died !== null && died !== undefined) throw new Error(`the server exited (${died}) during the tests`);
  }

  /** A fresh access token for a role, from the login API. */
  async token(role) {
    const { email, password } = this.account(role);
    const resp = await fetch(`${this.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    if (!resp.ok) throw new Error(`login ${email}: ${resp.status} ${await resp.text()}`);
    return (await resp.json()).access_token;
  }

  /** A JSON call as a role, from the test itself (for setup and checks). */
  async api(role, method, path, body) {
    const resp = await fetch(`${this.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${await this.token(role)}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${await resp.text()}`);
    return resp.status === 204 ? null : resp.json();
  }

  /** The server's own view of an upload's offset (tus HEAD), as the creator. */
  async uploadOffset(uploadUrl) {
    const resp = await fetch(new URL(uploadUrl, this.url), {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${await this.token('creator')}`, 'Tus-Resumable': '1.0.0' },
    });
    if (resp.status !== 200) throw new Error(`HEAD ${uploadUrl}: ${resp.status}`);
    return Number(resp.headers.get('upload-offset'));
  }

  /**
   * A browser context that records every request its pages make in
   * `context.requests`. `uploadChunkBytes` lowers the app's tus chunk size.
   */
  async context({ uploadChunkBytes, ...options } = {}) {
    const context = await this.browser.newContext({ viewport: { width: 1100, height: 800 }, ...options });
    this.contexts.push(context);
    context.requests = [];
    context.on('request', (req) => context.requests.push({ url: req.url(), method: req.method(), headers: req.headers() }));
    if (uploadChunkBytes) {
      await context.addInitScript((chunk) => localStorage.setItem('sealcast.uploadChunkBytes', String(chunk)), uploadChunkBytes);
    }
    return context;
  }

  /** Logs a role in through the page's form. */
  async login(page, role) {
    const { email, password } = this.account(role);
    await page.goto(`${this.url}/login`);
    await page.getByTestId('login-email').fill(email);
    await page.getByTestId('login-password').fill(password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('whoami').waitFor({ timeout: 15000 });
  }

  /** A new context and page, logged in as `role` and at `path` when given. */
  async page(role, path, contextOptions) {
    const context = await this.context(contextOptions);
    const page = await context.newPage();
    if (role) await this.login(page, role);
    if (path) await page.goto(`${this.url}${path}`);
    return { context, page };
  }

  /** A short test video made with the ffmpeg CLI: colour bars with a clock, and a tone. */
  video(fileName, { seconds = 20, bitrate = null } = {}) {
    const path = join(this.media, fileName);
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

  /** A file of the given text among the test media. */
  file(fileName, text) {
    const path = join(this.media, fileName);
    writeFileSync(path, text);
    return path;
  }
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
async function startServer(env) {
  const webDir = join(APP_DIR, 'dist');
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run cargo build first`);
  if (!existsSync(join(webDir, 'index.html'))) throw new Error(`${webDir} has no index.html: run npm run build first`);
  const root = mkdtempSync(join(tmpdir(), 'sealcast-server-'));
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
  const readLog = () => {
    try {
      return readFileSync(logPath, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  let stopping = false;
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
      if (!stopping) console.error(`sealcast exited with ${code}:\n${readLog()}`);
      reject(new Error(`server exited with ${code}:\n${readLog()}`));
    });
  });
  return {
    url,
    env: fullEnv,
    log: readLog,
    exitCode: () => (child.exitCode ?? child.signalCode),
    async stop() {
      stopping = true;
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** `sealcast admin create-user … --password-stdin` against the server's data dir. */
function createAdminCli(server, { email, password }) {
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
function launchBrowser() {
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

/**
 * Polls `probe` until it returns something truthy and resolves to that;
 * rejects naming `what` once `timeout` ms have passed.
 */
/**
 * A key request's path: the key server's own `/keys/{session}/{key}` or, as
 * a session's playlists name keys, `/hls/{session}/{token}/{key}.key`.
 */
export function isKeyPath(path) {
  return /^\/(keys\/[^/]+\/[^/]+$|hls\/[^/]+\/[^/]+\/[^/]+\.key$)/.test(path);
}

export async function waitUntil(probe, { what, timeout = 30000, interval = 100 }) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
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

/**
 * Serves the third-party player test page (tests/pages) and the players'
 * builds from node_modules on 127.0.0.1:0: another origin than the server,
 * as a course platform embedding video.js or Shaka is. Nothing of it is
 * part of the web app. Resolves to `{ origin, close() }`.
 */
export async function servePlayerPages() {
  const files = {
    '/players.html': [join(here, 'pages/players.html'), 'text/html'],
    '/players.js': [join(here, 'pages/players.js'), 'text/javascript'],
    '/vendor/video.min.js': [join(APP_DIR, 'node_modules/video.js/dist/video.min.js'), 'text/javascript'],
    '/vendor/shaka-player.compiled.js': [join(APP_DIR, 'node_modules/shaka-player/dist/shaka-player.compiled.js'), 'text/javascript'],
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-store' }).end(readFileSync(file[0]));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}
