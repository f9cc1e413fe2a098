// Viewing progress: the player's heartbeats, and the resume offer.
//
// The server credits only media it sent this session, between two reports
// of which the first said "playing"; so the player reports when playback
// starts, every ~10 s while playing, on pause and end, around a seek (the
// range closes at the old position, a new one opens at the new), and when
// the viewer leaves (`pagehide`, or the page's player being torn down).
// Reports ride `fetch(…, { keepalive: true })`, which outlives the page and,
// unlike `sendBeacon`, can carry the Authorization header.

import { api } from './api.js';
import { token } from './session.js';

/** How often a playing player reports. */
export const HEARTBEAT_MS = 10000;

/**
 * Reports the playhead of `el` for the session `sessionId()` names (none yet:
 * nothing is sent). Returns `stop()`, which sends a last report first.
 */
export function trackProgress(el, sessionId) {
  let last = 0;
  let timer = null;
  // Reports go one after another, so the server reads them in order; the
  // last one (leaving) goes at once, as the page may not live to wait.
  let queue = Promise.resolve();

  const post = (id, position, playing) =>
    fetch(`/api/v1/playback/${encodeURIComponent(id)}/progress`, {
      method: 'POST',
      keepalive: true,
      credentials: 'same-origin',
      headers: { Authorization: `Bearer ${token()}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ position_seconds: Math.max(0, position), playing }),
    }).catch(() => {
      // A lost report only costs credit for one range; the next one goes on.
    });
  const send = (position, playing, { leaving = false } = {}) => {
    const id = sessionId();
    if (!id || !token() || !Number.isFinite(position)) return;
    if (leaving) post(id, position, playing);
    else queue = queue.then(() => post(id, position, playing));
  };
  const now = (playing = !el.paused && !el.ended) => send(el.currentTime, playing);

  const onTime = () => {
    if (!el.seeking) last = el.currentTime;
  };
  const onPlaying = () => {
    last = el.currentTime;
    now(true);
    clearInterval(timer);
    timer = setInterval(() => now(), HEARTBEAT_MS);
  };
  const onPause = () => {
    clearInterval(timer);
    now(false);
  };
  // At `seeking` the playhead already shows the target: close the range at
  // the last position played, as not playing, so the jump credits nothing.
  const onSeeking = () => send(last, false);
  const onSeeked = () => {
    last = el.currentTime;
    now();
  };
  const onHide = () => send(el.currentTime, false, { leaving: true });

  // One signal takes every listener off again in stop().
  const listening = new AbortController();
  const on = (target, type, fn) => target.addEventListener(type, fn, { signal: listening.signal });
  on(el, 'timeupdate', onTime);
  on(el, 'playing', onPlaying);
  on(el, 'pause', onPause);
  on(el, 'ended', onPause);
  on(el, 'seeking', onSeeking);
  on(el, 'seeked', onSeeked);
  on(window, 'pagehide', onHide);

  return function stop() {
    clearInterval(timer);
    if (!el.seeking) last = el.currentTime || last;
    send(last, false);
    listening.abort();
  };
}

/** The caller's progress on a video, or null when it cannot be read. */
export async function videoProgress(videoId) {
  try {
    return await api(`/api/v1/videos/${encodeURIComponent(videoId)}/progress`);
  } catch {
    return null;
  }
}

/** Where resuming makes sense: past the first seconds and not at the end. */
export function resumePoint(progress) {
  if (!progress) return null;
  const { position_seconds: at, duration_seconds: length } = progress;
  return at >= 2 && at < length - 2 ? at : null;
}
