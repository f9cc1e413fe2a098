// The creator's upload panel against the real server: pause and resume in
// the same page, and a file that is not a video refused with its reason on
// screen and on the video's row.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, useKit } from './helpers.js';

const kit = useKit('studio', { env: SMALL_TRANSCODE, users: ['creator'], course: 'Studio' });
const CHUNK = 256 * 1024;
const CHUNKS_BEFORE_PAUSE = 2;

const studioPage = () => kit.page('creator', `/studio/courses/${kit.courseId}`, { uploadChunkBytes: CHUNK });
const patchesOf = (context) => context.requests.filter((r) => r.method === 'PATCH');

test('pause stops sending, resume finishes from where it paused', { timeout: 120000 }, async () => {
  const video = kit.video('pausable.mp4', { seconds: 20, bitrate: '1000k' });
  const { context, page } = await studioPage();
  // Two chunks go through; the third is held at the network, so Pause is
  // always pressed mid-upload, with a chunk in flight.
  let passed = 0;
  let resumed = false;
  let held = null;
  const sentWhilePaused = [];
  let chunkWasHeld;
  const chunkHeld = new Promise((resolve) => (chunkWasHeld = resolve));
  await page.route('**/api/v1/uploads/**', (route) => {
    const request = route.request();
    if (request.method() !== 'PATCH' || resumed) return route.continue();
    if (passed < CHUNKS_BEFORE_PAUSE) {
      passed++;
      return route.continue();
    }
    if (held) {
      sentWhilePaused.push(request.headers()['upload-offset']);
      return route.abort();
    }
    // Never answered: Pause has to cancel it in the page.
    held = request;
    chunkWasHeld(request);
  });
  await page.getByTestId('upload-input').setInputFiles(video);
  const inFlight = await chunkHeld;
  // Speed and time left are shown while it runs.
  assert.match(await page.getByTestId('upload-stats').textContent(), /% · .* of .* · .*\/s · .*left/);

  const cancelled = page.waitForEvent('requestfailed', { predicate: (r) => r.method() === 'PATCH' && r.url() === inFlight.url(), timeout: 15000 });
  await page.getByTestId('upload-pause').click();
  await page.locator('[data-testid=upload-status][data-state=paused]').waitFor();
  await cancelled;
  const patchesBefore = patchesOf(context).length;
  const pausedAt = await kit.uploadOffset(inFlight.url());
  assert.equal(pausedAt, CHUNKS_BEFORE_PAUSE * CHUNK, 'the server holds the chunks sent before the pause');
  assert.equal(await page.getByTestId('upload-pause').textContent(), 'Resume');
  assert.deepEqual(sentWhilePaused, [], 'nothing is sent while paused');
  assert.equal(patchesOf(context).length, patchesBefore, 'nothing is sent while paused');

  resumed = true;
  await page.getByTestId('upload-pause').click();
  await page.locator('[data-testid=upload-status][data-state=done]').waitFor({ timeout: 60000 });
  const after = patchesOf(context).slice(patchesBefore);
  assert.ok(after.length >= 1);
  assert.equal(Number(after[0].headers['upload-offset']), pausedAt, 'resume starts at the server\'s offset, not over');
  // The row follows the video into the queue.
  await page.locator('[data-testid=studio-video]:not([data-status=uploading])').first().waitFor({ timeout: 30000 });
  await context.close();
});

test('a file that is not a video is refused with its reason on screen', { timeout: 60000 }, async () => {
  const bogus = kit.file('notes.mp4', 'these are lecture notes, not a video\n'.repeat(2000));
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
  await page.locator('[data-testid=unfinished-uploads][data-loaded=true]').waitFor({ state: 'attached' });
  assert.equal(await page.getByTestId('unfinished-upload').count(), 0);
  await context.close();
});
