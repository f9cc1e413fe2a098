// Captions in the browser against the real server: the creator adds a
// caption file to a ready video in the studio (a malformed one is refused
// with its line on screen), the learner plays the video, picks the language
// in the player's captions menu, and the cue's text is in the video's
// active text track while the video is inside the cue's time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, artifactPath, useKit } from './helpers.js';

const kit = useKit('captions', { env: SMALL_TRANSCODE, users: ['creator', 'learner'], course: 'Captioned' });

const VTT = `WEBVTT

00:00:03.000 --> 00:00:06.000
Captions arrive at three seconds

00:00:08.000 --> 00:00:10.000
And leave later
`;
const BROKEN = 'WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfine\n\n00:00:03.000 --> 00:00:0x.000\nbroken\n';

test('creator adds captions, learner picks them and sees the cue on time', { timeout: 240000 }, async () => {
  const video = kit.video('captioned.mp4', { seconds: 12 });
  const { context: creatorCtx, page: creator } = await kit.page('creator', `/studio/courses/${kit.courseId}`);
  await creator.getByTestId('upload-title').fill('Captioned lesson');
  await creator.getByTestId('upload-input').setInputFiles(video);
  const row = creator.locator('[data-testid=studio-video][data-status=ready]').filter({ hasText: 'Captioned lesson' });
  await row.waitFor({ timeout: 150000 });
  const videoId = await row.getAttribute('data-video-id');

  const panel = row.getByTestId('captions-panel');
  await panel.locator('summary').click();
  // A malformed file: refused, its line named, nothing listed.
  await panel.getByTestId('captions-file').setInputFiles(kit.file('broken.vtt', BROKEN));
  await panel.getByTestId('captions-lang').fill('en');
  await panel.getByTestId('captions-submit').click();
  const error = panel.getByTestId('captions-error');
  await error.waitFor({ state: 'visible', timeout: 15000 });
  assert.match(await error.textContent(), /line 6.*invalid_captions/);
  assert.equal(await panel.getByTestId('caption-track').count(), 0);

  await panel.getByTestId('captions-file').setInputFiles(kit.file('english.vtt', VTT));
  await panel.getByTestId('captions-lang').fill('en');
  await panel.getByTestId('captions-label').fill('English');
  await panel.getByTestId('captions-submit').click();
  await panel.locator('[data-testid=caption-track][data-lang=en]').waitFor({ timeout: 15000 });
  assert.match(await panel.getByTestId('caption-track').textContent(), /English \(en\) · 2 cues/);
  assert.equal(await error.isVisible(), false);
  await creatorCtx.close();

  // The learner plays it and turns English captions on.
  const { context, page } = await kit.page('learner', `/watch/${videoId}`);
  const menu = page.getByTestId('captions');
  await page.locator('[data-testid=captions]:not([disabled])').waitFor({ timeout: 30000 });
  assert.deepEqual(await menu.locator('option').allTextContents(), ['Off', 'English']);
  await menu.selectOption({ label: 'English' });

  // Polled in the page: the first moment a cue is active, with the time then.
  const seen = await page.waitForFunction(
    () => {
      const el = document.querySelector('[data-testid=video]');
      for (const track of el?.textTracks || []) {
        for (const cue of track.activeCues || []) {
          return { text: cue.text, time: el.currentTime, lang: track.language, label: track.label, mode: track.mode, start: cue.startTime, end: cue.endTime };
        }
      }
      return null;
    },
    null,
    { timeout: 60000, polling: 100 },
  );
  const cue = await seen.jsonValue();
  await page.screenshot({ path: artifactPath('captions.png') });
  assert.equal(cue.text, 'Captions arrive at three seconds');
  assert.equal(cue.lang, 'en');
  assert.equal(cue.label, 'English');
  assert.equal(cue.mode, 'showing');
  assert.ok(Math.abs(cue.start - 3) < 0.1 && Math.abs(cue.end - 6) < 0.1, `cue placed at ${cue.start}–${cue.end}`);
  assert.ok(cue.time >= 2.9 && cue.time <= 6.1, `the cue was active at ${cue.time} s`);
  assert.equal(await page.getByTestId('player').getAttribute('data-hls-fatal'), '0');

  // Off hides the track again.
  await menu.selectOption({ label: 'Off' });
  await page.waitForFunction(() => [...document.querySelector('[data-testid=video]').textTracks].every((t) => t.mode !== 'showing'), null, {
    timeout: 10000,
  });
  await context.close();
});
