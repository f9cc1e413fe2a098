// The creator's upload panel against the real server: pause and resume in
// the same page, and a file that is not a video refused with its reason on
// screen and on the video's row.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import {
  SMALL_TRANSCODE,
  apiCall,
  apiLogin,
  createAdminCli,
  launchBrowser,
  loginUi,
  makeVideo,
  newContext,
  sleep,
  startServer,
  tempDir,
} from './helpers.js';

const ADMIN = { email: 'admin@studio.test', password: 'admin-password-1' };
const CREATOR = { email: 'creator@studio.test', password: 'creator-password-1' };
const CHUNK = 256 * 1024;

let server;
let browser;
let media;
let courseId;

before(async () => {
  media = tempDir('media');
  server = await startServer({ env: SMALL_TRANSCODE });
  createAdminCli(server, ADMIN.email, ADMIN.password);
  const admin = await apiLogin(server.url, ADMIN.email, ADMIN.password);
  await apiCall(server.url, admin, 'POST', '/api/v1/users', { ...CREATOR, role: 'creator' });
  const creator = await apiLogin(server.url, CREATOR.email, CREATOR.password);
  courseId = (await apiCall(server.url, creator, 'POST', '/api/v1/courses', { title: 'Studio' })).id;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function studioPage() {
  const context = await newContext(browser);
  await context.addInitScript((chunk) => localStorage.setItem('sealcast.uploadChunkBytes', String(chunk)), CHUNK);
  const page = await context.newPage();
  await loginUi(page, server.url, CREATOR.email, CREATOR.password);
  await page.goto(`${server.url}/studio/courses/${courseId}`);
  return { context, page };
}

test('pause stops sending, resume finishes from where it paused', { timeout: 120000 }, async () => {
  const video = makeVideo(join(media, 'pausable.mp4'), { seconds: 20, bitrate: '1000k' });
  const { context, page } = await studioPage();
  // Slow each chunk down so a person (and this test) can press Pause mid-way.
  await page.route('**/api/v1/uploads/**', async (route) => {
    if (route.request().method() === 'PATCH') await sleep(400);
    return route.continue();
  });
  await page.getByTestId('upload-input').setInputFiles(video);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=upload]')?.dataset.offset) >= 2 * 262144);
  // Speed and time left are shown while it runs.
  assert.match(await page.getByTestId('upload-stats').textContent(), /% · .* of .* · .*\/s · .*left/);
  await page.getByTestId('upload-pause').click();
  await page.locator('[data-testid=upload-status][data-state=paused]').waitFor();
  await sleep(600); // let an aborted chunk settle
  const pausedAt = Number(await page.getByTestId('upload').getAttribute('data-offset'));
  const patchesBefore = context.requests.filter((r) => r.method === 'PATCH').length;
  await sleep(1500);
  assert.equal(context.requests.filter((r) => r.method === 'PATCH').length, patchesBefore, 'nothing is sent while paused');
  assert.equal(await page.getByTestId('upload-pause').textContent(), 'Resume');

  await page.getByTestId('upload-pause').click();
  await page.locator('[data-testid=upload-status][data-state=done]').waitFor({ timeout: 60000 });
  const resumed = context.requests.filter((r) => r.method === 'PATCH').slice(patchesBefore);
  assert.ok(resumed.length >= 1);
  assert.ok(Number(resumed[0].headers['upload-offset']) >= pausedAt - CHUNK, 'resume did not start over');
  assert.ok(Number(resumed[0].headers['upload-offset']) > 0);
  // The row follows the video into the queue.
  await page.locator('[data-testid=studio-video]:not([data-status=uploading])').first().waitFor({ timeout: 30000 });
  await context.close();
});

test('a file that is not a video is refused with its reason on screen', { timeout: 60000 }, async () => {
  const bogus = join(media, 'notes.mp4');
  writeFileSync(bogus, 'these are lecture notes, not a video\n'.repeat(2000));
  const { context, page } = await studioPage();
  await page.getByTestId('upload-title').fill('Not a video');
  await page.getByTestId('upload-input').setInputFiles(bogus);
  const status = page.locator('[data-testid=upload-status][data-state=error]');
  await status.waitFor({ timeout: 30000 });
  assert.match(await status.textContent(), /not a video/i);
  const row = page.locator('[data-testid=studio-video][data-status=failed]').filter({ hasText: 'Not a video' });
  await row.waitFor({ timeout: 15000 });
  assert.match(await row.getByTestId('video-error').textContent(), /not a video/i);
  // A refused upload is not offered for resuming on the next visit.
  await page.reload();
  await page.getByTestId('studio-videos').waitFor();
  await sleep(500);
  assert.equal(await page.getByTestId('unfinished-upload').count(), 0);
  await context.close();
});
