// A video's status, live from the server's event stream.
//
// EventSource cannot send headers, and an access token in a URL would end
// up in logs and history, so each stream opens with a single-use ticket the
// API mints for this video. When the stream drops we reopen it with a fresh
// ticket (the browser's own retry would present the spent one), and a slow
// poll covers the case where streams never get through at all.

import { api } from './api.js';

/** Calls onStatus(video) on each change until ready/failed; returns stop(). */
export function watchStatus(videoId, onStatus) {
  let source = null;
  let stopped = false;
  let failures = 0;
  let timer = null;
  let pollTimer = null;

  const done = (v) => v.status === 'ready' || v.status === 'failed';
  const deliver = (v) => {
    if (stopped) return;
    onStatus(v);
    if (done(v)) stop();
  };

  async function open() {
    if (stopped) return;
    const base = `/api/v1/videos/${encodeURIComponent(videoId)}/events`;
    let ticket = null;
    try {
      ticket = (await api(`${base}/ticket`, { method: 'POST' })).ticket;
    } catch {
      // Offline or signed out: retry later; the poll keeps the status fresh.
    }
    if (stopped) return;
    if (!ticket) {
      failures++;
      timer = setTimeout(open, Math.min(10000, 1000 * failures));
      return;
    }
    source = new EventSource(`${base}?ticket=${encodeURIComponent(ticket)}`);
    source.addEventListener('status', (ev) => {
      failures = 0;
      try {
        deliver(JSON.parse(ev.data));
      } catch {
        // A malformed event: the next one or the poll will do.
      }
    });
    source.onerror = () => {
      source?.close();
      source = null;
      if (stopped) return;
      failures++;
      timer = setTimeout(open, Math.min(10000, 1000 * failures));
    };
  }

  async function poll() {
    if (stopped) return;
    try {
      deliver(await api(`/api/v1/videos/${encodeURIComponent(videoId)}`));
    } catch {
      // Deleted or unreachable: the stream's error path reports it.
    }
    pollTimer = setTimeout(poll, 10000);
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(pollTimer);
    source?.close();
    source = null;
  }

  open();
  pollTimer = setTimeout(poll, 10000);
  return stop;
}
