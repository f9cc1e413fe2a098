// The creator's upload panel against the real server: pause and resume in
// the same page, and a file that is not a video refused with its reason on
// screen and on the video's row.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, sleep, useKit } from './helpers.js';

const kit = useKit('studio', { env: SMALL_TRANSCODE, users: ['creator'], course: 'Studio' });
const CHUNK = 256 * 1024;

const studioPage = () => kit.page('creator', `/studio/courses/${kit.courseId}`, { uploadChunkBytes: CHUNK });
const patchesOf = (context) => context.requests.filter((r) => r.method === 'PATCH');

test('pause stops sending, resume finishes from where it paused', { timeout: 120000 }, async () => {
  const video = kit.video('pausable.mp4', { seconds: 20, bitrate: '1000k' });
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
  const patchesBefore = patchesOf(context).length;
  await sleep(1500);
  assert.equal(patchesOf(context).length, patchesBefore, 'nothing is sent while paused');
  assert.equal(await page.getByTestId('upload-pause').textContent(), 'Resume');

  await page.getByTestId('upload-pause').click();
  await page.locator('[data-testid=upload-status][data-state=done]').waitFor({ timeout: 60000 });
  const resumed = patchesOf(context).slice(patchesBefore);
  assert.ok(resumed.length >= 1);
  assert.ok(Number(resumed[0].headers['upload-offset']) >= pausedAt - CHUNK, 'resume did not start over');
  assert.ok(Number(resumed[0].headers['upload-offset']) > 0);
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
  await page.getByTestId('studio-videos').waitFor();
  await sleep(500);
  assert.equal(await page.getByTestId('unfinished-upload').count(), 0);
  await context.close();
});
