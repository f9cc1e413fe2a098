// The player: hls.js on a playback session, the viewer's watermark over the
// picture, a seek bar with storyboard previews (seekbar.js), quality, speed
// and captions menus, and a visible message for every way playback can be
// refused or fail. Nothing stalls silently: each hls.js error ends in a retry
// the viewer is told about, a recovery, or a message that says why.

import Hls from 'hls.js';
import hlsWorkerUrl from 'hls.js/dist/hls.worker.js?url';
import { api, describe } from './api.js';
import { captionsMenu } from './captions.js';
import { h } from './dom.js';
import { clock } from './format.js';
import { mountSeekBar } from './seekbar.js';
import { trackProgress } from './progress.js';
import { freshToken, refresh, token } from './session.js';
import { speedControl } from './speed.js';

/** Messages for the key server's and the edge's stable refusal codes. */
const REFUSALS = {
  session_revoked: 'Access revoked: an administrator stopped this playback.',
  user_disabled: 'Access revoked: this account has been disabled.',
  session_ended: 'This playback session has ended (it was ended elsewhere or by an administrator).',
  not_entitled: 'You are no longer enrolled in this course, so this video cannot play.',
};

/** A key's URL: `/keys/{session}/{key}`, or `/hls/{session}/{token}/{key}.key` as playlists name keys. */
const KEY_PATH = /^\/(keys\/[^/]+\/[^/]+$|hls\/[^/]+\/[^/]+\/[^/]+\.key$)/;
const isKeyUrl = (url) => KEY_PATH.test(new URL(url, location.href).pathname);

/** Reads the JSON error code from a failed XHR (hls.js hands it over as networkDetails). */
function refusalOf(data) {
  const xhr = data.networkDetails;
  const status = data.response?.code ?? xhr?.status ?? 0;
  let code = null;
  try {
    const raw = xhr?.response;
    const text = typeof raw === 'string' ? raw : raw instanceof ArrayBuffer ? new TextDecoder().decode(raw) : '';
    code = JSON.parse(text)?.error?.code ?? null;
  } catch {
    // Not JSON: the status alone decides.
  }
  let retryAfter = null;
  try {
    retryAfter = Number(xhr?.getResponseHeader?.('Retry-After')) || null;
  } catch {
    retryAfter = null;
  }
  return { status, code, retryAfter };
}

/**
 * The crypto period (seconds under one key) from a level's playlist, so the
 * forward buffer holds about one period: a revoked viewer then needs a new
 * key within one period, and is refused.
 */
function cryptoPeriod(details) {
  const uris = new Set();
  let total = 0;
  for (const frag of details.fragments || []) {
    total += frag.duration;
    const key = Object.values(frag.levelkeys || {})[0];
    if (key?.uri) uris.add(key.uri);
  }
  return uris.size ? total / uris.size : details.targetduration * 2;
}

/** `startAt`: where to begin, in seconds (-1: the start, or hls.js's choice). */
export function mountPlayer(video, viewer, { startAt = -1 } = {}) {
  const el = h('video', {
    'data-testid': 'video',
    controls: true,
    playsinline: true,
    preload: 'auto',
    controlslist: 'nofullscreen nodownload noremoteplayback',
    disablepictureinpicture: true,
    'aria-label': video.title,
  });
  const watermark = h('div', { class: 'watermark', 'data-testid': 'watermark', 'aria-hidden': 'true' });
  const message = h('div', { class: 'player-message', role: 'alert', 'data-testid': 'player-message', hidden: true });
  const stage = h('div', { class: 'stage', 'data-testid': 'stage' }, el, watermark, message);
  const quality = h('select', { id: 'quality', 'data-testid': 'quality', disabled: true }, h('option', { value: '-1' }, 'Auto'));
  const levelInfo = h('span', { class: 'level-info', 'data-testid': 'current-level', 'aria-live': 'polite' });
  const seekBar = mountSeekBar(el, video.duration_seconds);
  const fullscreen = h('button', { type: 'button', class: 'ghost', 'data-testid': 'fullscreen' }, 'Full screen');
  const captions = captionsMenu();
  const root = h(
    'section',
    { class: 'player', 'data-testid': 'player', 'data-state': 'loading', 'data-hls-fatal': '0', 'aria-label': 'Video player' },
    stage,
    seekBar.element,
    h(
      'div',
      { class: 'player-controls' },
      h('label', { for: 'quality' }, 'Quality'),
      quality,
      levelInfo,
      ...captions.elements,
      speedControl(el),
      fullscreen,
    ),
  );

  let hls = null;
  let session = null;
  let destroyed = false;
  let stopped = false;
  let fatalCount = 0;
  let networkRetries = 0;
  let mediaRecoveries = 0;
  let retryTimer = null;
  let chosenLevel = -1;
  let resignedAt = 0;
  let authRetries = 0;

  const setState = (state) => (root.dataset.state = state);
  const say = (text, { code = '', kind = 'error' } = {}) => {
    message.hidden = !text;
    message.textContent = text || '';
    message.dataset.code = code;
    message.className = `player-message ${kind}`;
  };

  // The watermark names the viewer and the time, and wanders so a screen
  // recording cannot crop it away.
  const moveWatermark = () => {
    watermark.style.left = `${5 + Math.random() * 55}%`;
    watermark.style.top = `${5 + Math.random() * 75}%`;
  };
  const tick = () => {
    watermark.textContent = `${viewer?.email || 'viewer'} · ${clock()}`;
  };
  tick();
  moveWatermark();
  const clockTimer = setInterval(tick, 1000);
  const moveTimer = setInterval(moveWatermark, 4000);

  fullscreen.addEventListener('click', () => {
    // The stage, not the <video>, goes full screen so the watermark stays on top.
    if (document.fullscreenElement) document.exitFullscreen();
    else stage.requestFullscreen?.().catch(() => {});
  });

  const showLevel = (index) => {
    const l = hls?.levels[index];
    levelInfo.textContent = l ? `${chosenLevel < 0 ? 'Auto: ' : ''}${l.height}p` : '';
  };
  quality.addEventListener('change', () => {
    chosenLevel = Number(quality.value);
    if (!hls) return;
    // A smooth switch: what is buffered plays out and the next fragments come
    // from the chosen rung. An immediate switch (`currentLevel`) flushes the
    // buffer and aborts the fragment and key loads in flight, and under load
    // playback sometimes never resumed after it.
    hls.nextLevel = chosenLevel;
    // Say the pinned rung now; under Auto, say what is on screen.
    // FRAG_CHANGED keeps it true as fragments play.
    if (chosenLevel >= 0) showLevel(chosenLevel);
    else if (hls.currentLevel >= 0) showLevel(hls.currentLevel);
  });

  async function newSession() {
    session = await api(`/api/v1/videos/${encodeURIComponent(video.id)}/playback`, { method: 'POST' });
    root.dataset.sessionId = session.session_id;
    seekBar.load(session.storyboard_url);
  }

  /** Ends playback for good, with the reason on screen. */
  function stop(text, code) {
    stopped = true;
    clearTimeout(retryTimer);
    setState('stopped');
    say(text, { code });
    if (hls) {
      hls.destroy();
      hls = null;
    }
    el.pause();
    el.removeAttribute('src');
    el.load();
  }

  /** Starts (or restarts after a refusal) at `position`. */
  async function start(position = -1) {
    if (destroyed || stopped) return;
    try {
      if (!session || session.expires_at * 1000 < Date.now() + 10000) await newSession();
    } catch (err) {
      if (err.status === 409) stop('This video is still being processed. Try again in a moment.', err.code);
      else if (err.status === 403 || err.status === 404) stop(`You cannot watch this video: ${describe(err)}`, err.code);
      else {
        say(`Could not start playback: ${describe(err)}. Retrying…`, { code: err.code });
        retryTimer = setTimeout(() => start(position), 3000);
      }
      return;
    }
    if (hls) hls.destroy();
    if (!Hls.isSupported()) {
      stop('This browser cannot play encrypted HLS here (no Media Source Extensions).', 'unsupported');
      return;
    }
    hls = new Hls({
      workerPath: hlsWorkerUrl,
      startPosition: position,
      // Refined from the playlist's crypto period on LEVEL_LOADED.
      maxBufferLength: 8,
      maxMaxBufferLength: 8,
      backBufferLength: 10,
      // Key requests carry a token fresh for at least the request's life;
      // segments and playlists carry no credential (their URLs are signed).
      xhrSetup: async (xhr, url) => {
        if (!isKeyUrl(url)) return;
        const token = await freshToken(20000).catch(() => null);
        xhr.open('GET', url, true);
        if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      },
      fetchSetup: (context, init) => {
        if (isKeyUrl(context.url)) {
          init.headers = new Headers(init.headers || {});
          // fetchSetup is synchronous; the session module refreshes well
          // before expiry, so the current token is still valid here.
          const current = token();
          if (current) init.headers.set('Authorization', `Bearer ${current}`);
        }
        return new Request(context.url, init);
      },
      // A refused key is final for this attempt: we read why and decide.
      keyLoadPolicy: {
        default: {
          maxTimeToFirstByteMs: 8000,
          maxLoadTimeMs: 20000,
          timeoutRetry: { maxNumRetry: 2, retryDelayMs: 500, maxRetryDelayMs: 2000 },
          errorRetry: { maxNumRetry: 0, retryDelayMs: 1000, maxRetryDelayMs: 8000 },
        },
      },
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
      quality.replaceChildren(
        h('option', { value: '-1' }, 'Auto'),
        ...data.levels.map((l, i) =>
          h('option', { value: String(i) }, `${l.height}p · ${Math.round(l.bitrate / 1000)} kbps`),
        ),
      );
      quality.value = String(chosenLevel);
      quality.disabled = false;
      if (chosenLevel >= 0) hls.currentLevel = chosenLevel;
      el.play().catch(() => {
        // Autoplay refused: the viewer presses play.
        setState('ready');
      });
    });
    hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
      const period = cryptoPeriod(data.details);
      const ahead = Math.min(60, Math.max(period, data.details.targetduration * 2));
      hls.config.maxBufferLength = ahead;
      hls.config.maxMaxBufferLength = ahead;
      root.dataset.cryptoPeriod = period.toFixed(1);
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => showLevel(data.level));
    // The rung actually on screen: also right when a pinned rung was chosen
    // before the first fragment played (no switch event then).
    hls.on(Hls.Events.FRAG_CHANGED, (_e, data) => showLevel(data.frag.level));
    hls.on(Hls.Events.FRAG_BUFFERED, () => {
      networkRetries = 0;
      authRetries = 0;
      if (message.dataset.code && !stopped) say('');
    });
    hls.on(Hls.Events.ERROR, (_e, data) => onError(data));
    captions.attach(hls);
    hls.attachMedia(el);
    hls.loadSource(session.master_url);
  }

  function onError(data) {
    if (destroyed || stopped) return;
    if (data.fatal) {
      fatalCount++;
      root.dataset.hlsFatal = String(fatalCount);
    }
    const refused = data.type === Hls.ErrorTypes.NETWORK_ERROR && (data.response?.code || data.networkDetails?.status);
    if (refused) {
      const { status, code, retryAfter } = refusalOf(data);
      const url = data.response?.url || data.url || data.context?.url || '';
      if ((code === 'expired_signature' || code === 'bad_signature') && Date.now() - resignedAt > 30000) {
        // The session's signed URLs aged out: a new session gets new ones.
        resignedAt = Date.now();
        session = null;
        start(el.currentTime || -1);
        return;
      }
      if (REFUSALS[code] || (status === 403 && (isKeyUrl(url) || code))) {
        stop(REFUSALS[code] || `Playback was refused (${code || status}).`, code || String(status));
        return;
      }
      if (status === 429) {
        const wait = Math.min(60, retryAfter || 2);
        setState('paced');
        say(`Too many key requests: the key server asked us to wait. Retrying in ${wait} s…`, {
          code: code || 'key_pacing',
          kind: 'warn',
        });
        hls.stopLoad();
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => start(el.currentTime || -1), wait * 1000);
        return;
      }
      if (status === 401 && authRetries < 2) {
        // The token lapsed (a sleeping laptop): refresh once and go on.
        authRetries++;
        hls.stopLoad();
        refresh().then((ok) =>
          ok ? start(el.currentTime || -1) : stop('You were signed out. Log in again to keep watching.', code || 'signed_out'),
        );
        return;
      }
    }
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR && networkRetries < 5) {
      networkRetries++;
      const wait = networkRetries * 2;
      say(`Network problem (${data.details}). Retrying in ${wait} s…`, { code: 'network', kind: 'warn' });
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => start(el.currentTime || -1), wait * 1000);
      return;
    }
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 2) {
      mediaRecoveries++;
      say('Recovering from a playback error…', { code: 'media', kind: 'warn' });
      if (mediaRecoveries === 2) hls.swapAudioCodec();
      hls.recoverMediaError();
      return;
    }
    stop(`Playback failed: ${data.details}${data.error?.message ? ` (${data.error.message})` : ''}.`, data.details);
  }

  el.addEventListener('playing', () => {
    setState('playing');
    if (message.dataset.code === 'media') say('');
  });
  el.addEventListener('waiting', () => !stopped && setState('buffering'));

  const stopProgress = trackProgress(el, () => session?.session_id);
  start(startAt);

  return {
    element: root,
    destroy() {
      destroyed = true;
      clearInterval(clockTimer);
      clearInterval(moveTimer);
      clearTimeout(retryTimer);
      seekBar.destroy();
      // The last report before the session is ended below.
      stopProgress();
      if (hls) hls.destroy();
      hls = null;
      // Free the session's slot on the server; it may already be gone.
      if (session && token()) {
        api(`/api/v1/playback/${encodeURIComponent(session.session_id)}`, { method: 'DELETE' }).catch(() => {});
      }
    },
  };
}
