// Seek previews: a slim seek bar under the picture that shows, while the
// pointer is over it, the storyboard thumbnail of that moment and the time.
// The native controls never say where the pointer is over their own seek
// bar, hence this one. Thumbnails come from the session's WebVTT track
// (`storyboard_url`); each cue names a tile of a sprite sheet as
// `sprite_000.jpg#xywh=x,y,w,h` (relative to the track, whose signed path it
// inherits), shown as a CSS background
// with that offset. Without a storyboard the bar still seeks and shows the time.

import { h } from './dom.js';
import { duration as formatTime } from './format.js';

const TIMING = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?) --> (\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/;

/** A WebVTT thumbnails track as cues `{ start, end, url, x, y, w, h }`; URLs resolved against `base`. */
export function parseThumbnails(text, base) {
  const cues = [];
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== 'WEBVTT') return cues;
  for (let i = 1; i < lines.length; i++) {
    const m = TIMING.exec(lines[i].trim());
    if (!m) continue;
    const payload = (lines[i + 1] || '').trim();
    const hash = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(payload);
    if (!hash) continue;
    const start = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
    const end = Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]);
    const [x, y, w, h] = hash.slice(2).map(Number);
    cues.push({ start, end, url: new URL(hash[1], base).href, x, y, w, h });
  }
  return cues;
}

/** The cue showing at `t` seconds (the last one past the end). */
function cueAt(cues, t) {
  return cues.find((c) => t >= c.start && t < c.end) || (cues.length && t >= cues[cues.length - 1].start ? cues[cues.length - 1] : null);
}

/**
 * A seek bar for `media`. `load(url)` takes a session's storyboard_url (or
 * null); `element` goes under the stage.
 */
export function mountSeekBar(media, fallbackDuration) {
  const played = h('div', { class: 'seekbar-played' });
  const tile = h('div', { class: 'seek-preview-tile', 'data-testid': 'seek-preview-tile' });
  const time = h('span', { class: 'seek-preview-time', 'data-testid': 'seek-preview-time' });
  const preview = h('div', { class: 'seek-preview', 'data-testid': 'seek-preview', hidden: true, 'aria-hidden': 'true' }, tile, time);
  const bar = h(
    'div',
    {
      class: 'seekbar',
      'data-testid': 'seekbar',
      'data-storyboard': 'none',
      role: 'slider',
      tabindex: '0',
      'aria-label': 'Seek',
      'aria-valuemin': '0',
      'aria-valuenow': '0',
    },
    played,
    preview,
  );
  let cues = [];
  let loading = null;

  const length = () => (Number.isFinite(media.duration) && media.duration > 0 ? media.duration : fallbackDuration || 0);
  const timeAt = (clientX) => {
    const rect = bar.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
    return { fraction, t: fraction * length(), width: rect.width };
  };

  function show({ fraction, t, width }) {
    const cue = cueAt(cues, t);
    preview.hidden = false;
    preview.dataset.time = t.toFixed(3);
    time.textContent = formatTime(Math.floor(t));
    if (cue) {
      tile.hidden = false;
      tile.style.width = `${cue.w}px`;
      tile.style.height = `${cue.h}px`;
      tile.style.backgroundImage = `url("${cue.url}")`;
      tile.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      tile.dataset.url = cue.url;
      tile.dataset.xywh = `${cue.x},${cue.y},${cue.w},${cue.h}`;
    } else {
      tile.hidden = true;
      delete tile.dataset.url;
      delete tile.dataset.xywh;
    }
    const w = preview.offsetWidth || cue?.w || 0;
    preview.style.left = `${Math.min(Math.max(0, fraction * width - w / 2), Math.max(0, width - w))}px`;
  }

  bar.addEventListener('pointermove', (e) => show(timeAt(e.clientX)));
  bar.addEventListener('pointerleave', () => (preview.hidden = true));
  bar.addEventListener('click', (e) => {
    if (length() > 0) media.currentTime = timeAt(e.clientX).t;
  });
  bar.addEventListener('keydown', (e) => {
    const step = { ArrowLeft: -5, ArrowRight: 5 }[e.key];
    if (!step || !length()) return;
    e.preventDefault();
    media.currentTime = Math.min(length(), Math.max(0, media.currentTime + step));
  });
  const progress = () => {
    const total = length();
    played.style.width = total ? `${(100 * media.currentTime) / total}%` : '0';
    bar.setAttribute('aria-valuemax', String(Math.round(total)));
    bar.setAttribute('aria-valuenow', String(Math.round(media.currentTime)));
    bar.setAttribute('aria-valuetext', `${formatTime(media.currentTime)} of ${formatTime(total)}`);
  };
  media.addEventListener('timeupdate', progress);
  media.addEventListener('durationchange', progress);

  return {
    element: bar,
    /** Loads a session's thumbnails track; a new session's replaces the old. */
    async load(url) {
      if (!url) {
        cues = [];
        bar.dataset.storyboard = 'none';
        return;
      }
      const mine = (loading = url);
      try {
        const resp = await fetch(url, { credentials: 'omit' });
        if (!resp.ok) throw new Error(String(resp.status));
        const parsed = parseThumbnails(await resp.text(), new URL(url, location.href).href);
        if (loading !== mine) return;
        cues = parsed;
        bar.dataset.storyboard = parsed.length ? 'ready' : 'none';
      } catch {
        // Previews are optional: the bar still seeks.
        if (loading === mine) bar.dataset.storyboard = 'failed';
      }
    },
    destroy() {
      media.removeEventListener('timeupdate', progress);
      media.removeEventListener('durationchange', progress);
    },
  };
}
