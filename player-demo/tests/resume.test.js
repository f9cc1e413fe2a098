// An upload cut mid-way resumes from the server's offset after the page is
// closed and opened again: no new upload is created, the first PATCH of the
// new page starts at the stored offset, and the bytes before it are not sent
// again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { SMALL_TRANSCODE, useKit, waitUntil } from './helpers.js';

const kit = useKit('resume', { env: SMALL_TRANSCODE, users: ['creator'], course: 'Resumable' });
const CHUNK = 256 * 1024;
const CHUNKS_BEFORE_CUT = 3;

test('an upload cut mid-way resumes from the stored offset after the page is reopened', { timeout: 180000 }, async () => {
  // About 2.5 MB: ten chunks of 256 KiB, so a cut after three is mid-way.
  const video = kit.video('long-lesson.mp4', { seconds: 20, bitrate: '1000k' });
  const size = statSync(video).size;
  assert.ok(size > (CHUNKS_BEFORE_CUT + 2) * CHUNK, `test video is ${size} bytes`);
  // Small chunks so there is a "mid-way" to cut at.
  const context = await kit.context({ uploadChunkBytes: CHUNK });
  const studio = `${kit.url}/studio/courses/${kit.courseId}`;

  // --- First page: the network dies after three chunks.
  const first = await context.newPage();
  let patchesPassed = 0;
  let cut = false;
  await first.route('**/api/v1/uploads/**', async (route) => {
    if (route.request().method() !== 'PATCH') return route.continue();
    if (patchesPassed < CHUNKS_BEFORE_CUT) {
      patchesPassed++;
      return route.continue();
    }
    cut = true;
    return route.abort('connectionreset');
  });
  await kit.login(first, 'creator');
  await first.goto(studio);
  await first.getByTestId('upload-input').setInputFiles(video);
  // tus-js-client retries; the page says so instead of hanging silently.
  await first.locator('[data-testid=upload-status][data-state=retrying]').waitFor({ timeout: 30000 });
  assert.ok(cut, 'the fourth chunk was cut');
  const videoId = await first.getByTestId('upload').getAttribute('data-video-id');
  assert.match(videoId, /^[0-9a-f]{32}$/);
  const uploadUrl = context.requests.find((r) => r.method === 'PATCH')?.url;
  assert.ok(uploadUrl, 'a PATCH was sent');
  const offset = await kit.uploadOffset(uploadUrl);
  assert.equal(offset, CHUNKS_BEFORE_CUT * CHUNK, 'the server holds exactly the chunks that got through');
  await first.close();

  // --- Second page (same browser profile): the app remembers the upload.
  const mark = context.requests.length;
  const second = await context.newPage();
  await second.goto(studio);
  const unfinished = second.getByTestId('unfinished-upload');
  await unfinished.waitFor({ timeout: 15000 });
  assert.match(await unfinished.textContent(), /long-lesson\.mp4/);
  await second.getByTestId('upload-input').setInputFiles(video);
  await second.locator('[data-testid=upload-status][data-state=done]').waitFor({ timeout: 60000 });
  assert.equal(await second.getByTestId('upload').getAttribute('data-resumed'), 'true');

  const later = context.requests.slice(mark);
  const creations = later.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/v1/uploads');
  assert.equal(creations.length, 0, 'no new upload was created');
  const heads = later.filter((r) => r.method === 'HEAD' && r.url === uploadUrl);
  assert.ok(heads.length >= 1, 'the page asked the server for the offset');
  const patches = later.filter((r) => r.method === 'PATCH');
  assert.ok(patches.length >= 1);
  assert.ok(patches.every((p) => p.url === uploadUrl), 'every PATCH went to the same upload');
  const firstOffset = Number(patches[0].headers['upload-offset']);
  assert.equal(firstOffset, offset, 'the first PATCH after reopening starts at the stored offset, not 0');
  const expectedPatches = Math.ceil((size - offset) / CHUNK);
  assert.equal(patches.length, expectedPatches, 'only the missing bytes were sent');
  assert.equal(await kit.uploadOffset(uploadUrl), size, 'the server holds the whole file');

  // The upload is complete: the video leaves "uploading" for the queue.
  const status = await waitUntil(
    async () => {
      const v = await kit.api('creator', 'GET', `/api/v1/videos/${videoId}`);
      return v.status !== 'uploading' && v.status;
    },
    { what: 'the video to leave "uploading"', timeout: 15000, interval: 200 },
  );
  assert.ok(['queued', 'processing', 'ready'].includes(status), `video status ${status}`);
  // The remembered upload is forgotten once it finished.
  const stored = await second.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tus::')));
  assert.deepEqual(stored, []);
  await context.close();
});
