// Key pacing in the player: with a pacing bucket of one key, the key server
// answers the player's early request for the next key with 429 key_pacing and
// a Retry-After. The player says so on screen, waits as told, and carries on:
// never a silent stall, never a dead player.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  SMALL_TRANSCODE,
  apiCall,
  apiLogin,
  artifactPath,
  createAdminCli,
  launchBrowser,
  loginUi,
  makeVideo,
  newContext,
  startServer,
  tempDir,
} from './helpers.js';

const ADMIN = { email: 'admin@pacing.test', password: 'admin-password-1' };
const CREATOR = { email: 'creator@pacing.test', password: 'creator-password-1' };
const LEARNER = { email: 'learner@pacing.test', password: 'learner-password-1' };

let server;
let browser;
let video;
let courseId;

before(async () => {
  video = makeVideo(join(tempDir('media'), 'paced.mp4'), { seconds: 20 });
  server = await startServer({
    env: { ...SMALL_TRANSCODE, SEALCAST_KEY_PACING_BURST: '1', SEALCAST_KEY_PACING_SPEEDUP: '1' },
  });
  createAdminCli(server, ADMIN.email, ADMIN.password);
  const admin = await apiLogin(server.url, ADMIN.email, ADMIN.password);
  await apiCall(server.url, admin, 'POST', '/api/v1/users', { ...CREATOR, role: 'creator' });
  await apiCall(server.url, admin, 'POST', '/api/v1/users', { ...LEARNER, role: 'learner' });
  const creator = await apiLogin(server.url, CREATOR.email, CREATOR.password);
  courseId = (await apiCall(server.url, creator, 'POST', '/api/v1/courses', { title: 'Paced' })).id;
  await apiCall(server.url, creator, 'POST', `/api/v1/courses/${courseId}/enrollments`, { email: LEARNER.email });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a paced key request is shown, waited out and playback goes on', { timeout: 180000 }, async (t) => {
  // The creator uploads through the page; the test waits for "ready".
  const creatorCtx = await newContext(browser);
  const creator = await creatorCtx.newPage();
  await loginUi(creator, server.url, CREATOR.email, CREATOR.password);
  await creator.goto(`${server.url}/studio/courses/${courseId}`);
  await creator.getByTestId('upload-input').setInputFiles(video);
  const row = creator.locator('[data-testid=studio-video]').first();
  await row.and(creator.locator('[data-status=ready]')).waitFor({ timeout: 150000 });
  const videoId = await row.getAttribute('data-video-id');
  await creatorCtx.close();

  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  const paced = [];
  const granted = [];
  page.on('response', async (resp) => {
    if (!new URL(resp.url()).pathname.startsWith('/keys/')) return;
    if (resp.status() === 429) paced.push({ at: Date.now(), retryAfter: resp.headers()['retry-after'] });
    if (resp.status() === 200) granted.push(Date.now());
  });
  await loginUi(page, server.url, LEARNER.email, LEARNER.password);
  await page.goto(`${server.url}/watch/${videoId}`);

  const message = page.getByTestId('player-message');
  await page.locator('[data-testid=player-message][data-code=key_pacing]').waitFor({ state: 'visible', timeout: 30000 });
  const shownAt = Date.now();
  assert.match(await message.textContent(), /Too many key requests.*Retrying in \d+ s/);
  assert.ok(paced.length >= 1, 'the key server answered 429');
  assert.ok(Number(paced[0].retryAfter) >= 1, `Retry-After: ${paced[0].retryAfter}`);
  await page.getByTestId('stage').screenshot({ path: artifactPath('paced.png') });

  // The player waits as told, asks again, and plays on past the paced key.
  await page.waitForFunction(() => document.querySelector('[data-testid=video]')?.currentTime > 6, null, {
    timeout: 60000,
    polling: 250,
  });
  const retried = granted.filter((at) => at > shownAt);
  assert.ok(retried.length >= 1, 'a key was granted after the wait');
  assert.ok(
    retried[0] - paced[0].at >= Number(paced[0].retryAfter) * 1000 - 250,
    'the player did not ask again before Retry-After',
  );
  assert.notEqual(await page.getByTestId('player').getAttribute('data-state'), 'stopped');
  t.diagnostic(`${paced.length} paced answers (Retry-After ${paced.map((p) => p.retryAfter).join(', ')} s), ${granted.length} keys granted`);
  await ctx.close();
});
