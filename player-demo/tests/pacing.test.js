// Key pacing in the player: with an allowance of 1 s of media, the key server
// answers the player's early request for the next key with 429 key_pacing and
// a Retry-After. The player says so on screen, waits as told, and carries on:
// never a silent stall, never a dead player. "As told" is the key server's
// call: had the player asked again too early, it would have been paced again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, artifactPath, isKeyPath, useKit } from './helpers.js';

const kit = useKit('pacing', {
  env: { ...SMALL_TRANSCODE, SEALCAST_KEY_PACING_ALLOWANCE_SECS: '1', SEALCAST_KEY_PACING_SPEEDUP: '1' },
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
  // Every answer of the key server, in order.
  const keyAnswers = [];
  page.on('response', (resp) => {
    const path = new URL(resp.url()).pathname;
    if (isKeyPath(path)) keyAnswers.push({ path, status: resp.status(), retryAfter: resp.headers()['retry-after'] });
  });
  await page.goto(`${kit.url}/watch/${videoId}`);

  const message = page.getByTestId('player-message');
  await page.locator('[data-testid=player-message][data-code=key_pacing]').waitFor({ state: 'visible', timeout: 30000 });
  assert.match(await message.textContent(), /Too many key requests.*Retrying in \d+ s/);
  const pacedAt = keyAnswers.findIndex((a) => a.status === 429);
  assert.ok(pacedAt >= 0, 'the key server answered 429');
  const paced = keyAnswers[pacedAt];
  assert.ok(Number(paced.retryAfter) >= 1, `Retry-After: ${paced.retryAfter}`);
  await page.getByTestId('stage').screenshot({ path: artifactPath('paced.png') });

  // The player waits as told, asks again, and plays on past the paced key.
  await page.waitForFunction(() => document.querySelector('[data-testid=video]')?.currentTime > 6, null, {
    timeout: 60000,
    polling: 250,
  });
  const again = keyAnswers.slice(pacedAt + 1).filter((a) => a.path === paced.path);
  assert.ok(again.length >= 1, 'the player asked for the paced key again');
  assert.equal(again[0].status, 200, 'the player waited as told: its next request for the paced key was granted, not paced again');
  assert.notEqual(await page.getByTestId('player').getAttribute('data-state'), 'stopped');
  const pacedCount = keyAnswers.filter((a) => a.status === 429).length;
  const grantedCount = keyAnswers.filter((a) => a.status === 200).length;
  t.diagnostic(`${pacedCount} paced answers (Retry-After ${paced.retryAfter} s first), ${grantedCount} keys granted`);
  await context.close();
});
