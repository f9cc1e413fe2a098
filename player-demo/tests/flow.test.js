// The whole story in a real browser against the real server:
// an admin creates a creator and a learner; the creator makes a course,
// enrolls the learner and uploads a video through the page, which becomes
// ready; the learner plays it (keys from the key server, no hls.js fatal
// error); the admin revokes the learner, and the learner's player stops with
// a visible message within one crypto period: it holds no more than a period
// of media ahead, and its next key request is refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, artifactPath, foreignRequests, isKeyPath, useKit } from './helpers.js';

const kit = useKit('flow', { env: SMALL_TRANSCODE });
const CREATOR = kit.account('creator');
const LEARNER = kit.account('learner');

test('admin → creator → learner → revoke, in the browser', { timeout: 240000 }, async (t) => {
  const base = kit.url;
  // 20 s: with 2 s segments and a key every 2 segments (4 s crypto periods)
  // there are still keys to fetch after the 5 s mark, so a revocation shows.
  const video = kit.video('lesson-one.mp4', { seconds: 20 });

  // --- The admin creates the creator and the learner in the UI.
  const { context: adminCtx, page: admin } = await kit.page('admin');
  await admin.waitForURL(`${base}/admin`);
  for (const u of [CREATOR, LEARNER]) {
    await admin.getByTestId('new-user-email').fill(u.email);
    await admin.getByTestId('new-user-password').fill(u.password);
    await admin.getByTestId('new-user-role').selectOption(u.role);
    await admin.getByTestId('create-user-submit').click();
    await admin.locator(`[data-testid=user-row][data-email="${u.email}"]`).waitFor({ timeout: 10000 });
  }

  // --- The creator makes a course, enrolls the learner and uploads.
  const { context: creatorCtx, page: creator } = await kit.page('creator');
  await creator.waitForURL(`${base}/studio`);
  await creator.getByTestId('course-title').fill('Secure streaming 101');
  await creator.getByTestId('create-course-submit').click();
  await creator.getByTestId('studio-course-link').filter({ hasText: 'Secure streaming 101' }).click();
  await creator.waitForURL(/\/studio\/courses\/[0-9a-f]+$/);
  await creator.getByTestId('enroll-email').fill(LEARNER.email);
  await creator.getByTestId('enroll-submit').click();
  await creator.locator(`[data-testid=enrollment][data-email="${LEARNER.email}"]`).waitFor({ timeout: 10000 });

  await creator.getByTestId('upload-title').fill('Lesson one');
  await creator.getByTestId('upload-input').setInputFiles(video);
  await creator.locator('[data-testid=upload-status][data-state=done]').waitFor({ timeout: 60000 });
  const row = creator.locator('[data-testid=studio-video]').filter({ hasText: 'Lesson one' });
  // Live progress from the event stream until the video is ready.
  await row.and(creator.locator('[data-status=ready]')).waitFor({ timeout: 150000 });
  const videoId = await row.getAttribute('data-video-id');
  assert.match(videoId, /^[0-9a-f]{32}$/);
  const sse = creatorCtx.requests.filter((r) => r.url.includes(`/api/v1/videos/${videoId}/events?`));
  assert.ok(sse.length >= 1, 'the studio followed the video over SSE');
  // With a single-use ticket: no access token ever rides in a URL.
  assert.ok(sse.every((r) => /[?&]ticket=/.test(r.url)), 'the stream opened with a ticket');
  assert.ok(
    creatorCtx.requests.every((r) => !r.url.includes('access_token')),
    'no access token in any URL',
  );

  // --- The learner finds the video and plays it.
  const learnerCtx = await kit.context();
  const learner = await learnerCtx.newPage();
  // Every answer to a key or HLS request, in order; a refusal's error code
  // as a promise; the rungs' playlists as the player got them.
  const answers = [];
  const playlists = [];
  learner.on('response', (resp) => {
    const path = new URL(resp.url()).pathname;
    if (!isKeyPath(path) && !path.startsWith('/hls/')) return;
    const status = resp.status();
    if (status === 200 && path.endsWith('.m3u8') && !path.endsWith('/master.m3u8')) playlists.push(resp.text());
    const code = status === 403 ? resp.json().then((b) => b?.error?.code ?? null, () => null) : null;
    answers.push({ url: resp.url(), path, key: isKeyPath(path), status, code });
  });
  const keyResponses = () => answers.filter((a) => a.key);
  await kit.login(learner, 'learner');
  await learner.waitForURL(`${base}/courses`);
  await learner.getByTestId('course-link').filter({ hasText: 'Secure streaming 101' }).click();
  const card = learner.locator(`[data-testid=video-card][data-video-id="${videoId}"]`);
  await card.waitFor();
  assert.match(await card.textContent(), /Lesson one/);
  assert.match(await card.textContent(), /0:(19|20|21)/, 'the card shows the duration');
  const poster = card.locator('img');
  await learner.waitForFunction((el) => el.complete && el.naturalWidth > 0, await poster.elementHandle(), { timeout: 10000 });
  await learner.screenshot({ path: artifactPath('course.png') });
  await card.getByTestId('play-link').click();
  await learner.waitForURL(`${base}/watch/${videoId}`);

  const player = learner.getByTestId('player');
  // The quality menu: Auto plus each rung; choosing one pins it.
  const qualityMenu = learner.getByTestId('quality');
  await learner.locator('[data-testid=quality]:not([disabled])').waitFor({ timeout: 30000 });
  const options = await qualityMenu.locator('option').allTextContents();
  assert.equal(options[0], 'Auto');
  assert.equal(options.length, 3, `Auto and one entry per rung: ${options}`);
  await qualityMenu.selectOption({ index: 2 });
  const pinned = options[2].split(' ')[0];
  await learner.waitForFunction(
    (want) => document.querySelector('[data-testid=current-level]')?.textContent === want,
    pinned,
    { timeout: 45000 },
  );
  await learner.waitForFunction(() => document.querySelector('[data-testid=video]')?.currentTime > 5, null, {
    timeout: 60000,
    polling: 250,
  });
  assert.equal(await player.getAttribute('data-hls-fatal'), '0', 'no hls.js fatal error while playing');
  assert.ok(keyResponses().length >= 2, `keys were fetched: ${JSON.stringify(keyResponses())}`);
  for (const k of keyResponses()) assert.equal(k.status, 200, `key request ${k.url}`);
  const keyRequests = learnerCtx.requests.filter((r) => isKeyPath(new URL(r.url).pathname));
  assert.ok(
    keyRequests.every((r) => /^Bearer /.test(r.headers.authorization || '')),
    'key requests carry the access token',
  );
  assert.ok(
    keyRequests.length >= 2 && keyRequests.every((r) => /^\/hls\/[^/]+\/[^/]+\/[^/]+\.key$/.test(new URL(r.url).pathname)),
    `hls.js resolves the playlists' relative key URIs under the session's token: ${keyRequests.map((r) => r.url)}`,
  );
  const segmentRequests = learnerCtx.requests.filter((r) => {
    const path = new URL(r.url).pathname;
    return path.startsWith('/hls/') && !isKeyPath(path);
  });
  assert.ok(
    segmentRequests.every((r) => !r.headers.authorization),
    'segments and playlists carry no token (their URLs are signed)',
  );
  const watermark = learner.getByTestId('watermark');
  assert.ok(await watermark.isVisible(), 'the watermark is over the video');
  assert.match(await watermark.textContent(), new RegExp(`${LEARNER.email.replace('.', '\\.')} · \\d\\d:\\d\\d:\\d\\d`));
  await learner.getByTestId('stage').screenshot({ path: artifactPath('playing.png') });
  await learner.screenshot({ path: artifactPath('playing-page.png') });
  const period = Number(await player.getAttribute('data-crypto-period'));
  assert.ok(period >= 2 && period <= 6, `crypto period from the playlist: ${period}`);

  // --- The admin (another browser context) sees the live session, then revokes the learner.
  await admin.reload();
  await admin.locator(`[data-testid=session-row][data-email="${LEARNER.email}"]`).waitFor({ timeout: 10000 });
  // From the revocation on, the player has only what it buffered before it
  // needs a new key: by its rule one crypto period (at least two target
  // durations), plus the segment it was fetching and the one it had just
  // appended when it got there (its buffer goal is checked per segment).
  const answered = answers.length;
  const ahead = await learner.evaluate(() => {
    const v = document.querySelector('[data-testid=video]');
    return v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : 0;
  });
  const rungs = await Promise.all(playlists);
  assert.ok(rungs.length >= 1, 'the player loaded a rung playlist');
  const target = Math.max(...rungs.map((text) => Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)[1])));
  const longest = Math.max(...rungs.flatMap((text) => [...text.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]))));
  const bound = Math.max(period, 2 * target) + 2 * longest;
  assert.ok(ahead <= bound, `${ahead.toFixed(1)} s buffered ahead at the revocation (at most ${bound} s)`);
  const learnerRow = admin.locator(`[data-testid=user-row][data-email="${LEARNER.email}"]`);
  await learnerRow.getByTestId('disable-user').click();
  await admin.locator(`[data-testid=user-row][data-email="${LEARNER.email}"][data-disabled=true]`).waitFor({ timeout: 10000 });

  // --- The learner's player stops with a visible reason: its next key
  // (or segment) request was refused, and nothing was granted after that.
  await learner.locator('[data-testid=player][data-state=stopped]').waitFor({ timeout: (period + 30) * 1000 });
  const message = learner.getByTestId('player-message');
  assert.ok(await message.isVisible(), 'the player says why it stopped');
  const code = await message.getAttribute('data-code');
  assert.ok(['session_revoked', 'user_disabled', 'session_ended'].includes(code), `refusal code ${code}`);
  assert.match(await message.textContent(), /revoked|disabled|ended/i);
  const since = answers.slice(answered);
  const refused = since.findIndex((a) => a.status === 403);
  assert.ok(refused >= 0, `the key server or the edge refused the revoked session: ${JSON.stringify(since)}`);
  assert.equal(await since[refused].code, code, 'the message gives the server\'s reason');
  assert.deepEqual(
    since.slice(refused).filter((a) => a.key && a.status === 200),
    [],
    'no key was granted after the refusal',
  );
  await learner.getByTestId('stage').screenshot({ path: artifactPath('revoked.png') });
  t.diagnostic(
    `revoked with ${ahead.toFixed(1)} s buffered (at most ${bound} s, crypto period ${period} s) → ${code}; ` +
      `${keyResponses().filter((k) => k.status === 200).length} keys granted; ` +
      `refused: ${since.filter((a) => a.status === 403).map((a) => a.path).join(', ')}`,
  );

  // Nothing in any page went anywhere but the server.
  for (const ctx of [adminCtx, creatorCtx, learnerCtx]) {
    assert.deepEqual(foreignRequests(ctx.requests, base), []);
  }

  // --- The audit log shows the keys granted and the revocation.
  await admin.getByTestId('reload-audit').click();
  await admin.locator('[data-testid=audit-row][data-action=key]').first().waitFor();
  await admin.locator('[data-testid=audit-row][data-action="revoke.user"]').first().waitFor();

  // --- The creator deletes the video (two presses) and it is gone.
  await row.getByTestId('delete-video').click();
  await row.getByTestId('delete-video').click();
  await row.waitFor({ state: 'detached', timeout: 10000 });
  const gone = await fetch(`${base}/api/v1/videos/${videoId}`, { headers: { Authorization: `Bearer ${await kit.token('creator')}` } });
  assert.equal(gone.status, 404, 'the deleted video is gone from the API');
  for (const ctx of [adminCtx, creatorCtx, learnerCtx]) await ctx.close();
});
