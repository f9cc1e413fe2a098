// Pacing never stalls a real player, and still stops a harvester. Third-party
// players on another origin — video.js 8 (VHS) and Shaka Player — play a
// 60 s video with 4 s keys (2 s segments, two per key) at their default
// buffer goals and at 30 s, with ABR and with one rendition pinned, each as
// its own learner (video.js' four at once, then Shaka's): no key request is
// paced, and each reaches the end. A harvester on that origin asking every key
// URI of three fresh sessions (a user's live maximum) at once gets the
// allowance once, and 429s with a Retry-After it can read for the rest.
//
// The allowance is scaled to the short test video (48 s of media up front
// instead of the default 240 s), so that both matter: a buffer goal of 30–60 s
// is most of it, and the harvester cannot get the whole video at once.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { SMALL_TRANSCODE, isKeyPath, servePlayerPages, useKit } from './helpers.js';

const pages = await servePlayerPages();
after(() => pages.close());

const kit = useKit('players', {
  env: {
    ...SMALL_TRANSCODE,
    SEALCAST_CORS_ORIGINS: pages.origin,
    SEALCAST_KEY_PACING_ALLOWANCE_SECS: '48',
  },
  users: ['creator', 'learner'],
  course: 'Players',
});

const PLAYERS = [
  { lib: 'videojs', bufferGoal: null, rendition: null },
  { lib: 'videojs', bufferGoal: null, rendition: 180 },
  { lib: 'videojs', bufferGoal: 30, rendition: null },
  { lib: 'videojs', bufferGoal: 30, rendition: 180 },
  { lib: 'shaka', bufferGoal: null, rendition: null },
  { lib: 'shaka', bufferGoal: null, rendition: 180 },
  { lib: 'shaka', bufferGoal: 30, rendition: null },
  { lib: 'shaka', bufferGoal: 30, rendition: 180 },
];

const nameOf = (p) => `${p.lib}-${p.bufferGoal ? `goal${p.bufferGoal}` : 'default'}-${p.rendition ? `${p.rendition}p` : 'abr'}`;

/** A learner of the course, made through the API, for one player or the harvester. */
async function learner(role) {
  const { email, password } = kit.account(role);
  await kit.api('admin', 'POST', '/api/v1/users', { email, password, role: 'learner' });
  await kit.api('creator', 'POST', `/api/v1/courses/${kit.courseId}/enrollments`, { email });
  return kit.token(role);
}

async function session(token, videoId) {
  const resp = await fetch(`${kit.url}/api/v1/videos/${videoId}/playback`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: '{}',
  });
  assert.equal(resp.status, 201, await resp.clone().text());
  return `${kit.url}${(await resp.json()).master_url}`;
}

/** The test video, once transcoded. */
const media = { videoId: null, duration: null };

/** A page of the players' origin whose key answers are recorded in `keys`. */
async function playerPage() {
  const context = await kit.context();
  const page = await context.newPage();
  const keys = [];
  page.on('response', (resp) => {
    const path = new URL(resp.url()).pathname;
    if (isKeyPath(path) && resp.request().method() === 'GET') keys.push({ path, status: resp.status() });
  });
  await page.goto(`${pages.origin}/players.html`);
  return { context, page, keys };
}

/** Plays `p` as its own learner until near the end (or the deadline); what it saw. */
async function play(p) {
  const { videoId, duration } = media;
  const name = nameOf(p);
  const token = await learner(name);
  const src = await session(token, videoId);
  const { context, page, keys } = await playerPage();
  await page.evaluate((opts) => window.startPlayer(opts), { ...p, src, token });
  let reached = null;
  try {
    await page.waitForFunction(
      (end) => {
        const v = document.querySelector('video');
        return v && (v.ended || v.currentTime >= end);
      },
      duration - 3,
      // Twice the running time: a player that froze does not get there.
      { timeout: duration * 2000, polling: 500 },
    );
  } catch (err) {
    reached = err;
  }
  const state = await page.evaluate(() => ({
    position: document.querySelector('video')?.currentTime ?? 0,
    errors: window.playerState.errors,
    events: window.playerState.events,
  }));
  await context.close();
  return { name, keys, ...state, timedOut: reached !== null };
}

test('video.js and Shaka play to the end unpaced; a harvester is refused', { timeout: 600000 }, async (t) => {
  const { context: creatorCtx, page: creator } = await kit.page('creator', `/studio/courses/${kit.courseId}`);
  await creator.getByTestId('upload-input').setInputFiles(kit.video('players.mp4', { seconds: 60 }));
  const row = creator.locator('[data-testid=studio-video]').first();
  await row.and(creator.locator('[data-status=ready]')).waitFor({ timeout: 180000 });
  const videoId = await row.getAttribute('data-video-id');
  await creatorCtx.close();
  const duration = (await kit.api('creator', 'GET', `/api/v1/videos/${videoId}`)).duration_seconds;
  Object.assign(media, { videoId, duration });

  // The harvester: three fresh sessions, every key URI of each at once.
  const harvesterToken = await learner('harvester');
  const masters = [];
  for (let i = 0; i < 3; i++) masters.push(await session(harvesterToken, videoId));
  const harvester = await playerPage();
  const answers = await harvester.page.evaluate((args) => window.harvest(args), { masters, token: harvesterToken });
  await harvester.context.close();
  const keyIds = new Set(answers.map((a) => a.path.split('/').pop()));
  const granted = new Set(answers.filter((a) => a.status === 200).map((a) => a.path.split('/').pop()));
  const paced = answers.filter((a) => a.status === 429);
  t.diagnostic(`harvester: ${granted.size} of ${keyIds.size} keys over ${masters.length} sessions, ${paced.length} × 429`);
  assert.ok(keyIds.size >= 14, `the video has ${keyIds.size} keys`);
  assert.ok(granted.size < keyIds.size, 'the harvester did not get every key');
  assert.deepEqual(answers.filter((a) => a.status !== 200 && a.status !== 429), [], 'only grants and 429s');
  for (const a of paced) assert.ok(Number(a.retryAfter) >= 1, `Retry-After readable cross-origin: ${a.retryAfter}`);

  // The players, each its own learner: video.js' one at a time (several VHS
  // transmuxers at once starve a 2-core machine: under a cold CI run, four
  // at once froze at 0-6 s with every key granted), then Shaka's four at once.
  const runs = [];
  for (const p of PLAYERS.filter((p) => p.lib === 'videojs')) runs.push(await play(p));
  runs.push(...(await Promise.all(PLAYERS.filter((p) => p.lib === 'shaka').map(play))));
  for (const r of runs) {
    const refused = r.keys.filter((k) => k.status !== 200);
    t.diagnostic(
      `${r.name}: ${r.keys.length} key requests, ${refused.filter((k) => k.status === 429).length} × 429, ` +
        `reached ${r.position.toFixed(1)} of ${duration} s${r.errors.length ? `, errors ${r.errors.join('; ')}` : ''}`,
    );
    if (r.timedOut) t.diagnostic(`${r.name} events: ${r.events.join(' ')}`);
  }
  for (const r of runs) {
    assert.deepEqual(r.keys.filter((k) => k.status !== 200), [], `${r.name}: every key request granted`);
    assert.ok(!r.timedOut, `${r.name} reached ${r.position.toFixed(1)} s of ${duration} s (froze?)`);
    assert.deepEqual(r.errors, [], `${r.name}: no player error`);
  }
});
