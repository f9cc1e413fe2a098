// A video's status, live from the server's event stream.
//
// EventSource cannot send headers, so the access token rides in the query
// (the API allows it on this one endpoint). When the stream drops we reopen
// it with a fresh token rather than let the browser retry with a stale one,
// and a slow poll covers the case where streams never get through at all.

import { api } from './api.js';
import { freshToken } from './session.js';

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
    const token = await freshToken().catch(() => null);
    if (stopped) return;
    const url = `/api/v1/videos/${encodeURIComponent(videoId)}/events${token ? `?access_token=${encodeURIComponent(token)}` : ''}`;
    source = new EventSource(url);
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
