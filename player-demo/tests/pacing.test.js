// Key pacing in the player: with a pacing bucket of one key, the key server
// answers the player's early request for the next key with 429 key_pacing and
// a Retry-After. The player says so on screen, waits as told, and carries on:
// never a silent stall, never a dead player.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, artifactPath, useKit } from './helpers.js';

const kit = useKit('pacing', {
  env: { ...SMALL_TRANSCODE, SEALCAST_KEY_PACING_BURST: '1', SEALCAST_KEY_PACING_SPEEDUP: '1' },
  users: ['creator', 'learner'],
  course: 'Paced',
});

test('a paced key request is shown, waited out and playback goes on', { timeout: 180000 }, async (t) => {
  // The creator uploads through the page; the test waits for "ready".
  const { context: creatorCtx, page: creator } = await kit.page('creator', `/studio/courses/${kit.courseId}`);
  await creator.getByTestId('upload-input').setInputFiles(kit.video('paced.mp4', { seconds: 20 }));
  const row = creator.locator('[data-testid=studio-video]').first();
  await row.and(creator.locator('[data-status=ready]')).waitFor({ timeout: 150000 });
  const videoId = await row.getAttribute('data-video-id');
  await creatorCtx.close();

  const { context, page } = await kit.page('learner');
  const paced = [];
  const granted = [];
  page.on('response', async (resp) => {
    if (!new URL(resp.url()).pathname.startsWith('/keys/')) return;
    if (resp.status() === 429) paced.push({ at: Date.now(), retryAfter: resp.headers()['retry-after'] });
    if (resp.status() === 200) granted.push(Date.now());
  });
  await page.goto(`${kit.url}/watch/${videoId}`);

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
  await context.close();
});
