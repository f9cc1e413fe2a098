// Seek previews in the browser: the player's seek bar shows, over the
// hovered moment, the storyboard tile of the session's signed WebVTT track
// and the time. Hovering at half the bar shows the cue at half the video,
// its sprite fetched under the session's signature.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, artifactPath, useKit, waitUntil } from './helpers.js';

const kit = useKit('storyboard', { env: SMALL_TRANSCODE, users: ['creator', 'learner'], course: 'Previews' });

/** The cues of a thumbnails track: { start, end, url, xywh }. */
function cuesOf(text, base) {
  const cues = [];
  const blocks = text.split('\n\n').slice(1);
  for (const block of blocks) {
    const [timing, payload] = block.trim().split('\n');
    const [start, end] = timing.split(' --> ').map((ts) => ts.split(':').reduce((acc, p) => acc * 60 + Number(p), 0));
    const [url, xywh] = payload.split('#xywh=');
    cues.push({ start, end, url: new URL(url, base).href, xywh });
  }
  return cues;
}

test('hovering the seek bar previews the storyboard tile of that moment', { timeout: 240000 }, async () => {
  const { context: creatorCtx, page: creator } = await kit.page('creator', `/studio/courses/${kit.courseId}`);
  await creator.getByTestId('upload-input').setInputFiles(kit.video('previews.mp4', { seconds: 20 }));
  const row = creator.locator('[data-testid=studio-video]').first();
  await row.and(creator.locator('[data-status=ready]')).waitFor({ timeout: 150000 });
  const videoId = await row.getAttribute('data-video-id');
  await creatorCtx.close();

  const { context, page } = await kit.page('learner');
  const sprites = [];
  page.on('response', (resp) => {
    if (/\/storyboard\/sprite_\d+\.jpg$/.test(new URL(resp.url()).pathname)) sprites.push({ url: resp.url(), status: resp.status() });
  });
  const started = page.waitForResponse((r) => r.url().endsWith(`/api/v1/videos/${videoId}/playback`) && r.status() === 201);
  await page.goto(`${kit.url}/watch/${videoId}`);
  const session = await (await started).json();
  // Under the session's signed path: `/hls/{session}/{exp}.{kv}.{sig}/…`.
  const base = new RegExp(`^/hls/${session.session_id}/\\d+\\.\\d+\\.[A-Za-z0-9_-]{43}/`);
  assert.match(session.storyboard_url, new RegExp(`${base.source}storyboard/storyboard\\.vtt$`));
  await page.locator('[data-testid=seekbar][data-storyboard=ready]').waitFor({ timeout: 30000 });

  // The track as the server hands it out, read here independently.
  const vttUrl = new URL(session.storyboard_url, kit.url).href;
  const cues = cuesOf(await (await fetch(vttUrl)).text(), vttUrl);
  assert.ok(cues.length >= 8, `a thumbnail every 2 s of 20 s: ${cues.length}`);

  const bar = page.getByTestId('seekbar');
  const box = await bar.boundingBox();
  await bar.hover({ position: { x: box.width / 2, y: box.height / 2 } });
  const preview = page.getByTestId('seek-preview');
  await preview.waitFor({ state: 'visible', timeout: 5000 });
  const shown = await page.getByTestId('seek-preview-tile').evaluate((el) => ({
    url: el.dataset.url,
    xywh: el.dataset.xywh,
    background: getComputedStyle(el).backgroundImage,
    position: getComputedStyle(el).backgroundPosition,
    width: el.style.width,
    time: Number(el.parentElement.dataset.time),
  }));
  const timeText = await page.getByTestId('seek-preview-time').textContent();

  // Half-way along the bar is half-way through the video.
  assert.ok(Math.abs(shown.time - 10) < 1, `hovered at ${shown.time} s`);
  assert.match(timeText, /^0:(09|10)$/);
  const cue = cues.find((c) => shown.time >= c.start && shown.time < c.end);
  assert.ok(cue, `a cue covers ${shown.time} s`);
  assert.equal(shown.xywh, cue.xywh);
  assert.equal(shown.url, cue.url);
  const [x, y, w] = cue.xywh.split(',').map(Number);
  assert.equal(shown.position, `${-x}px ${-y}px`);
  assert.ok(shown.background.includes(new URL(cue.url).pathname), shown.background);
  assert.equal(shown.width, `${w}px`);
  // The sprite is the session's, under its signed path, and it loaded.
  const sprite = new URL(cue.url);
  assert.match(sprite.pathname, new RegExp(`${base.source}storyboard/sprite_\\d+\\.jpg$`));
  assert.equal(sprite.search, '', 'the signature is in the path');
  const fetched = await waitUntil(() => sprites.find((s) => s.url === cue.url), { what: 'the sprite to load', timeout: 10000 });
  assert.equal(fetched.status, 200);
  await page.screenshot({ path: artifactPath('storyboard.png') });

  // Leaving the bar hides the preview; a click seeks to the hovered time.
  await page.mouse.move(box.x + box.width / 2, box.y - 200);
  await preview.waitFor({ state: 'hidden', timeout: 5000 });
  await bar.click({ position: { x: box.width * 0.75, y: box.height / 2 } });
  await page.waitForFunction(() => Math.abs(document.querySelector('[data-testid=video]').currentTime - 15) < 2, null, {
    timeout: 15000,
  });
  await context.close();
});
