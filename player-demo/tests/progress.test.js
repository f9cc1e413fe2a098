// Viewing progress in the browser against the real server: a learner watches
// part of a video and leaves; the server credits what the player fetched and
// keeps the position; the course page shows the video's progress and the
// course's completion; back on the video, the page offers "Resume at m:ss"
// and "Start over", and resuming starts playback near where they left.
// (Upload resume is another file: resume.test.js.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, useKit, waitUntil } from './helpers.js';

const kit = useKit('progress', { env: SMALL_TRANSCODE, users: ['creator', 'learner'], course: 'Progress' });

/** "m:ss", as the page writes it. */
const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

const currentTime = (page) => page.evaluate(() => document.querySelector('[data-testid=video]')?.currentTime ?? 0);

test('watch part, leave, see progress, come back and resume', { timeout: 240000 }, async () => {
  const base = kit.url;
  // --- The creator uploads a 30 s video through the studio.
  const { page: studio } = await kit.page('creator', `/studio/courses/${kit.courseId}`);
  await studio.getByTestId('upload-title').fill('Lesson with progress');
  await studio.getByTestId('upload-input').setInputFiles(kit.video('progress.mp4', { seconds: 30 }));
  const row = studio.locator('[data-testid=studio-video]').filter({ hasText: 'Lesson with progress' });
  await row.and(studio.locator('[data-status=ready]')).waitFor({ timeout: 150000 });
  const videoId = await row.getAttribute('data-video-id');

  // --- The learner has not watched it: no progress on the card, no offer.
  const { page } = await kit.page('learner', `/courses/${kit.courseId}`);
  const card = page.locator(`[data-testid=video-card][data-video-id="${videoId}"]`);
  await card.waitFor();
  assert.equal(await card.getByTestId('video-progress').count(), 0);
  assert.match(await page.getByTestId('course-completion').textContent(), /0 of 1 videos completed/);

  await card.getByTestId('play-link').click();
  await page.waitForURL(`${base}/watch/${videoId}`);
  assert.equal(await page.getByTestId('resume-offer').count(), 0, 'nothing to resume yet');
  await page.waitForFunction(() => document.querySelector('[data-testid=video]')?.currentTime > 8, null, {
    timeout: 60000,
    polling: 250,
  });
  // --- Pause and leave: the pause and the page's last report carry the position.
  await page.evaluate(() => document.querySelector('[data-testid=video]').pause());
  const leftAt = await currentTime(page);
  await page.getByText('← Back to the course').click();
  await page.waitForURL(`${base}/courses/${kit.courseId}`);

  const saved = await waitUntil(
    async () => {
      const p = await kit.api('learner', 'GET', `/api/v1/videos/${videoId}/progress`);
      return Math.abs(p.position_seconds - leftAt) < 0.5 ? p : null;
    },
    { what: `the position ${leftAt} saved`, timeout: 15000 },
  );
  // Credited from what the player was sent: most of what it played, never
  // more than it played (reports start at 0 and end at the pause).
  assert.ok(saved.watched_seconds >= 4 && saved.watched_seconds <= leftAt + 0.5, JSON.stringify(saved));
  assert.equal(saved.completed, false);
  assert.equal(saved.watched_ranges[0][0], 0);

  // --- The course page shows it.
  await page.reload();
  const line = card.getByTestId('video-progress');
  await line.waitFor();
  const share = Math.round((100 * saved.watched_seconds) / saved.duration_seconds);
  assert.match(await line.textContent(), new RegExp(`Watched ${share}% · resume at ${clock(saved.position_seconds)}`));
  assert.equal(await line.getAttribute('data-completed'), 'false');
  assert.match(await page.getByTestId('course-completion').textContent(), /0 of 1 videos completed \(0%\)/);

  // --- Back on the video: resume or start over; resuming starts near where they left.
  await card.getByTestId('play-link').click();
  await page.waitForURL(`${base}/watch/${videoId}`);
  const resume = page.getByTestId('resume');
  await resume.waitFor();
  assert.equal(await resume.textContent(), `Resume at ${clock(saved.position_seconds)}`);
  assert.equal(await page.getByTestId('start-over').textContent(), 'Start over');
  assert.equal(await page.getByTestId('player').count(), 0, 'the player waits for the choice');
  await resume.click();
  await page.waitForFunction(() => document.querySelector('[data-testid=player]')?.dataset.state === 'playing', null, {
    timeout: 60000,
  });
  const resumedAt = await currentTime(page);
  assert.ok(
    resumedAt >= saved.position_seconds - 0.5 && resumedAt <= saved.position_seconds + 4,
    `resumed at ${resumedAt}, left at ${saved.position_seconds}`,
  );
});
