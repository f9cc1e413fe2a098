// Playback speed: the learner picks 2× and the whole video plays through at
// 2× without a single paced key (429), under an allowance tight enough that
// a client taking the keys in one burst is paced. The choice is remembered
// on the server: a new page starts at 2× again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, isKeyPath, useKit } from './helpers.js';

// 2 s segments, a key every 2 → 4 s of media per key; 24 s → 6 keys.
// An allowance of 12 s of media growing at 2× real time: a burst gets at
// most 4 keys, a player at 2× with its 4-8 s buffer never runs short.
const kit = useKit('speed', {
  env: { ...SMALL_TRANSCODE, SEALCAST_KEY_PACING_ALLOWANCE_SECS: '12', SEALCAST_KEY_PACING_SPEEDUP: '2' },
  users: ['creator', 'learner'],
  course: 'Fast',
});

/** Every key URI of a session's first variant, in playlist order. */
async function keyUrls(masterUrl) {
  const master = await fetch(masterUrl);
  assert.equal(master.status, 200);
  const variant = (await master.text()).split('\n').find((l) => l && !l.startsWith('#'));
  const variantUrl = new URL(variant, masterUrl);
  const text = await (await fetch(variantUrl)).text();
  const uris = [...text.matchAll(/#EXT-X-KEY:[^\n]*URI="([^"]+)"/g)].map((m) => new URL(m[1], variantUrl).href);
  return [...new Set(uris)];
}

test('2× plays through with no paced key, and the speed is remembered', { timeout: 240000 }, async (t) => {
  const { context: creatorCtx, page: creator } = await kit.page('creator', `/studio/courses/${kit.courseId}`);
  await creator.getByTestId('upload-input').setInputFiles(kit.video('fast.mp4', { seconds: 24 }));
  const row = creator.locator('[data-testid=studio-video]').first();
  await row.and(creator.locator('[data-status=ready]')).waitFor({ timeout: 150000 });
  const videoId = await row.getAttribute('data-video-id');
  await creatorCtx.close();

  // The allowance is tight: the creator, taking every key at once, is paced.
  const creatorToken = await kit.token('creator');
  const session = await kit.api('creator', 'POST', `/api/v1/videos/${videoId}/playback`);
  const keys = await keyUrls(new URL(session.master_url, kit.url).href);
  assert.equal(keys.length, 6, 'six crypto periods');
  const burst = [];
  for (const url of keys) {
    burst.push((await fetch(url, { headers: { Authorization: `Bearer ${creatorToken}` } })).status);
  }
  assert.ok(burst.includes(429), `a burst of every key is paced: ${burst}`);

  const { context, page } = await kit.page('learner');
  const keyAnswers = [];
  page.on('response', (resp) => {
    if (isKeyPath(new URL(resp.url()).pathname)) keyAnswers.push(resp.status());
  });
  await page.goto(`${kit.url}/watch/${videoId}`);
  const speed = page.getByTestId('speed');
  await speed.and(page.locator(':enabled')).waitFor({ timeout: 30000 });
  assert.equal(await speed.inputValue(), '1', 'a new viewer starts at 1×');
  const saved = page.waitForResponse((r) => r.url().endsWith('/api/v1/me/preferences') && r.request().method() === 'PUT');
  await speed.selectOption('2');
  assert.equal((await saved).status(), 200);
  assert.equal(await page.getByTestId('video').evaluate((v) => v.playbackRate), 2);

  // To the end at 2×, never paced on the way.
  await page.waitForFunction(() => document.querySelector('[data-testid=video]')?.ended, null, { timeout: 90000, polling: 250 });
  assert.equal(await page.getByTestId('video').evaluate((v) => v.playbackRate), 2, 'still 2× at the end');
  assert.deepEqual(keyAnswers.filter((s) => s !== 200), [], 'every key request was granted');
  assert.ok(keyAnswers.length >= 6, `all six keys were fetched (${keyAnswers.length} answers)`);
  assert.notEqual(await page.getByTestId('player').getAttribute('data-state'), 'stopped');
  t.diagnostic(`burst: ${burst.join(' ')}; at 2×: ${keyAnswers.length} keys granted`);
  await context.close();

  // Remembered on the server, so a new page (another device) starts at 2×.
  assert.deepEqual(await kit.api('learner', 'GET', '/api/v1/me/preferences'), { playback_rate: 2 });
  const { context: again, page: next } = await kit.page('learner', `/watch/${videoId}`);
  await next.waitForFunction(() => document.querySelector('[data-testid=video]')?.playbackRate === 2, null, {
    timeout: 30000,
    polling: 250,
  });
  assert.equal(await next.getByTestId('speed').inputValue(), '2');
  await again.close();
});
