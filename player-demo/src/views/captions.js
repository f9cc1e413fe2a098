// A ready video's caption tracks in the studio: add a WebVTT or SRT file for
// a language (replacing that language's track), see the tracks, remove one.
// The server checks every cue and names the line of the first bad one.

import { api, describe } from '../api.js';
import { h, notice, removeButton, showNotice, toast } from '../dom.js';

/** The Content-Type the API expects, by file extension (browsers rarely know .srt). */
const TYPES = { vtt: 'text/vtt', srt: 'application/x-subrip' };

export function captionsPanel(video) {
  const error = notice('captions-error');
  const list = h('ul', { class: 'plain-list', 'data-testid': 'caption-tracks' });
  const file = h('input', {
    type: 'file',
    accept: '.vtt,.srt,text/vtt,application/x-subrip',
    'data-testid': 'captions-file',
    'aria-label': `Caption file for ${video.title}`,
  });
  const lang = h('input', { type: 'text', required: true, maxlength: 35, placeholder: 'en', 'data-testid': 'captions-lang', 'aria-label': 'Language tag (BCP 47, e.g. en or pt-BR)' });
  const label = h('input', { type: 'text', maxlength: 64, placeholder: 'English', 'data-testid': 'captions-label', 'aria-label': 'Name in the captions menu' });

  const row = (t) =>
    h(
      'li',
      { 'data-testid': 'caption-track', 'data-lang': t.lang },
      h('span', {}, `${t.label} (${t.lang}) · ${t.cue_count} cues`),
      removeButton(
        `Remove the ${t.label} captions`,
        () => api(`/api/v1/videos/${video.id}/captions/${encodeURIComponent(t.lang)}`, { method: 'DELETE' }),
        `Captions “${t.label}” removed.`,
        (err) => showNotice(error, describe(err)),
      ),
    );

  const form = h(
    'form',
    {
      class: 'inline-form',
      'data-testid': 'captions-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        showNotice(error, '');
        const chosen = file.files[0];
        const type = chosen && TYPES[chosen.name.split('.').pop().toLowerCase()];
        if (!type) {
          showNotice(error, 'Choose a WebVTT (.vtt) or SubRip (.srt) file.');
          return;
        }
        const name = label.value.trim();
        const query = name ? `?label=${encodeURIComponent(name)}` : '';
        try {
          const track = await api(`/api/v1/videos/${video.id}/captions/${encodeURIComponent(lang.value.trim())}${query}`, {
            method: 'PUT',
            body: chosen,
            contentType: type,
          });
          list.querySelector(`[data-lang="${track.lang}"]`)?.remove();
          list.append(row(track));
          form.reset();
          toast(`Captions “${track.label}” saved.`);
        } catch (err) {
          showNotice(error, describe(err));
        }
      },
    },
    file,
    lang,
    label,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'captions-submit' }, 'Add captions'),
  );

  api(`/api/v1/videos/${video.id}/captions`)
    .then(({ captions }) => list.replaceChildren(...captions.map(row)))
    .catch((err) => showNotice(error, describe(err)));
  return h('details', { class: 'captions', 'data-testid': 'captions-panel' }, h('summary', {}, 'Captions'), list, form, error);
}
