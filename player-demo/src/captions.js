// The player's captions menu: Off, or one of the session's subtitle tracks
// (the master playlist's SUBTITLES group). hls.js loads the chosen track's
// WebVTT segments and shows them as the video's text track; the choice
// (by language) survives a restart on a new session.

import Hls from 'hls.js';
import { h } from './dom.js';

export function captionsMenu() {
  const select = h('select', { id: 'captions', 'data-testid': 'captions', disabled: true }, h('option', { value: '-1' }, 'Off'));
  let hls = null;
  let chosenLang = null;

  const apply = (index) => {
    if (!hls) return;
    hls.subtitleDisplay = index >= 0;
    hls.subtitleTrack = index;
  };
  select.addEventListener('change', () => {
    const index = Number(select.value);
    chosenLang = index >= 0 ? hls?.subtitleTracks[index]?.lang ?? null : null;
    apply(index);
  });

  return {
    elements: [h('label', { for: 'captions' }, 'Captions'), select],
    /** Follows a new hls.js instance (each playback start makes one). */
    attach(instance) {
      hls = instance;
      hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (_e, { subtitleTracks }) => {
        select.replaceChildren(
          h('option', { value: '-1' }, 'Off'),
          ...subtitleTracks.map((t, i) => h('option', { value: String(i), lang: t.lang }, t.name || t.lang)),
        );
        select.disabled = subtitleTracks.length === 0;
        const again = chosenLang ? subtitleTracks.findIndex((t) => t.lang === chosenLang) : -1;
        select.value = String(again);
        apply(again);
      });
    },
  };
}
