// Test page script: starts video.js (VHS) or Shaka Player on a sealcast
// session's master URL, sends the learner's Bearer token on key requests
// only (what a course platform's integration does), and publishes what the
// test waits on in `window.playerState`.

/* global videojs, shaka */

window.playerState = { errors: [], events: [] };

/** Media element events, for the test's report when a player does not get to the end. */
function watch(video) {
  for (const name of ['loadedmetadata', 'playing', 'waiting', 'stalled', 'seeking', 'ended', 'error']) {
    video.addEventListener(name, () => {
      const events = window.playerState.events;
      if (events.length < 40) events.push(`${name}@${video.currentTime.toFixed(1)}`);
    });
  }
}

/** `/keys/{session}/{key}`, or `/hls/{session}/{token}/{key}.key` as playlists name keys. */
function isKeyUrl(url) {
  return /^\/(keys\/[^/]+\/[^/]+$|hls\/[^/]+\/[^/]+\/[^/]+\.key$)/.test(new URL(url, location.href).pathname);
}

function videoElement() {
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.width = 320;
  video.height = 180;
  video.dataset.testid = 'video';
  document.getElementById('stage').append(video);
  watch(video);
  return video;
}

// video.js 8 with its bundled VHS. `bufferGoal` null keeps VHS's defaults
// (30 s growing to 60 s); a number pins both. `rendition` keeps only the
// quality level of that height enabled once playback started, as a viewer
// picking it in a quality-selector plugin does.
function startVideojs({ src, token, bufferGoal, rendition }) {
  if (bufferGoal) {
    videojs.Vhs.GOAL_BUFFER_LENGTH = bufferGoal;
    videojs.Vhs.MAX_GOAL_BUFFER_LENGTH = bufferGoal;
  }
  videojs.Vhs.xhr.onRequest((options) => {
    if (isKeyUrl(options.uri)) options.headers = { ...options.headers, Authorization: `Bearer ${token}` };
    return options;
  });
  const player = videojs(videoElement(), { muted: true, autoplay: 'muted', html5: { vhs: { overrideNative: true } } });
  if (rendition) {
    player.one('playing', () => {
      const levels = player.qualityLevels();
      for (let i = 0; i < levels.length; i++) levels[i].enabled = levels[i].height === rendition;
    });
  }
  player.on('error', () => window.playerState.errors.push(String(player.error()?.message || player.error()?.code)));
  player.src({ src, type: 'application/x-mpegURL' });
  player.play()?.catch?.(() => {});
  window.player = player;
}

// Shaka Player. `bufferGoal` null keeps Shaka's default (10 s). `rendition`
// turns ABR off and selects the variant of that height.
async function startShaka({ src, token, bufferGoal, rendition }) {
  shaka.polyfill.installAll();
  const player = new shaka.Player();
  const video = videoElement();
  await player.attach(video);
  if (bufferGoal) player.configure({ streaming: { bufferingGoal: bufferGoal } });
  if (rendition) player.configure({ abr: { enabled: false } });
  player.getNetworkingEngine().registerRequestFilter((type, request) => {
    if (type === shaka.net.NetworkingEngine.RequestType.KEY || isKeyUrl(request.uris[0])) {
      request.headers.Authorization = `Bearer ${token}`;
    }
  });
  player.addEventListener('error', (event) => window.playerState.errors.push(`shaka ${event.detail?.code}`));
  try {
    await player.load(src);
    if (rendition) {
      const track = player.getVariantTracks().find((t) => t.height === rendition);
      if (track) player.selectVariantTrack(track, true);
    }
    window.playerState.rung = rendition || null;
    await video.play().catch(() => {});
  } catch (err) {
    window.playerState.errors.push(`shaka load ${err?.code || err}`);
  }
  window.player = player;
}

window.startPlayer = (options) => (options.lib === 'shaka' ? startShaka(options) : startVideojs(options));

// A harvester on this origin: for each session, every key URI of every
// rendition at once. Returns each key answer's path, status and the
// Retry-After it could read (CORS must expose it).
window.harvest = async ({ masters, token }) => {
  const answers = [];
  const text = async (url) => (await fetch(url)).text();
  const uris = (playlist, base) =>
    playlist
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => new URL(l, base).href);
  for (const master of masters) {
    const keys = new Set();
    for (const media of uris(await text(master), master)) {
      for (const m of (await text(media)).matchAll(/#EXT-X-KEY:[^\n]*URI="([^"]+)"/g)) keys.add(new URL(m[1], media).href);
    }
    const results = await Promise.all(
      [...keys].map(async (url) => {
        const resp = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
        return { path: new URL(url).pathname, status: resp.status, retryAfter: resp.headers.get('Retry-After') };
      }),
    );
    answers.push(...results);
  }
  return answers;
};
