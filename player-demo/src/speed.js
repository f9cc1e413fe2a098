// Playback speed, 0.5× to 2×, remembered per user on the server
// (/api/v1/me/preferences): the pace a learner studies at follows them from
// one device to the next. Key pacing lets up to 2× through without a single
// 429, which is why the menu stops there.

import { api, describe } from './api.js';
import { h } from './dom.js';

export const RATES = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];

const label = (rate) => `${rate}×`;

/**
 * The speed menu for `video`: applies the saved speed once it is known,
 * and saves every change (from the menu, or from the browser's own controls).
 */
export function speedControl(video) {
  const select = h(
    'select',
    { id: 'speed', 'data-testid': 'speed', disabled: true },
    ...RATES.map((r) => h('option', { value: String(r) }, label(r))),
  );
  const status = h('span', { class: 'speed-status', 'data-testid': 'speed-status', 'aria-live': 'polite' });
  select.value = '1';
  let saved = 1;

  const show = (rate) => {
    if (![...select.options].some((o) => Number(o.value) === rate)) {
      select.append(h('option', { value: String(rate) }, label(rate)));
    }
    select.value = String(rate);
  };
  // defaultPlaybackRate too: hls.js restarts (a new session, a recovery)
  // reload the element, which resets playbackRate to the default.
  const apply = (rate) => {
    video.defaultPlaybackRate = rate;
    video.playbackRate = rate;
    show(rate);
  };
  const save = async (rate) => {
    if (rate === saved) return;
    try {
      const prefs = await api('/api/v1/me/preferences', { method: 'PUT', body: { playback_rate: rate } });
      saved = prefs.playback_rate;
      status.textContent = '';
    } catch (err) {
      status.textContent = `Speed not saved: ${describe(err)}`;
    }
  };

  api('/api/v1/me/preferences')
    .then((prefs) => {
      saved = prefs.playback_rate;
      apply(saved);
    })
    .catch((err) => {
      // Playback goes on at 1×; the viewer is told why their speed is not back.
      status.textContent = `Saved speed not loaded: ${describe(err)}`;
    })
    .finally(() => (select.disabled = false));

  select.addEventListener('change', () => {
    const rate = Number(select.value);
    apply(rate);
    save(rate);
  });
  video.addEventListener('ratechange', () => {
    // A change from the browser's own controls is remembered as well; the
    // reset to the default when the element reloads is not a change.
    const rate = video.playbackRate;
    if (rate === Number(select.value)) return;
    const clamped = Math.min(2, Math.max(0.5, Math.round(rate * 100) / 100));
    apply(clamped);
    save(clamped);
  });

  return h('span', { class: 'speed' }, h('label', { for: 'speed' }, 'Speed'), select, status);
}
