// Resumable uploads with tus-js-client.
//
// The upload URL is remembered in localStorage under a fingerprint of
// (viewer, course, file name, size, type), so after a reload or a dropped
// connection choosing the same file again resumes at the server's offset
// instead of starting over. Every request gets a fresh access token.

import * as tus from 'tus-js-client';
import { freshToken, user } from './session.js';
import { h } from './dom.js';
import { bytes, eta } from './format.js';

const ENDPOINT = '/api/v1/uploads';
const DEFAULT_CHUNK = 8 * 1024 * 1024;

/** Chunk size; tests and slow links may lower it with localStorage. */
function chunkSize() {
  const custom = Number(localStorage.getItem('sealcast.uploadChunkBytes'));
  return Number.isFinite(custom) && custom >= 64 * 1024 ? custom : DEFAULT_CHUNK;
}

function fingerprintOf(file, courseId) {
  return ['sealcast', user()?.id, courseId, file.name, file.size, file.type].join('|');
}

/** Unfinished uploads to this course, from an earlier page or session. */
export async function unfinishedUploads(courseId) {
  if (!tus.canStoreURLs) return [];
  const all = await tus.defaultOptions.urlStorage.findAllUploads();
  return all.filter((u) => u.metadata?.course_id === courseId && u.urlStorageKey.includes(`|${user()?.id}|`));
}

/** Forgets an unfinished upload here and ends it on the server. */
export async function discardUpload(stored) {
  await tus.defaultOptions.urlStorage.removeUpload(stored.urlStorageKey);
  if (!stored.uploadUrl) return;
  const token = await freshToken().catch(() => null);
  await fetch(stored.uploadUrl, {
    method: 'DELETE',
    headers: { 'Tus-Resumable': '1.0.0', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  }).catch(() => {});
}

async function forgetStored(uploadUrl) {
  if (!uploadUrl || !tus.canStoreURLs) return;
  const all = await tus.defaultOptions.urlStorage.findAllUploads();
  for (const u of all) {
    if (u.uploadUrl === uploadUrl) await tus.defaultOptions.urlStorage.removeUpload(u.urlStorageKey);
  }
}

/** The server's error code and message from a failed tus request. */
function explain(err) {
  const res = err?.originalResponse;
  if (!res) return err?.message || String(err);
  let body = {};
  try {
    body = JSON.parse(res.getBody() || '{}')?.error || {};
  } catch {
    // Not JSON.
  }
  const status = res.getStatus();
  if (status === 413) return 'The file is larger than the server accepts.';
  if (status === 403) return `Not allowed to upload to this course (${body.code || status}).`;
  return `${body.message || `Upload refused (${status})`}${body.code ? ` (${body.code})` : ''}`;
}

/**
 * Starts (or resumes) one upload and returns its row element. `onCreated`
 * gets the video id as soon as the server has made the upload.
 */
export function startUpload(file, { courseId, title, onCreated, onDone }) {
  const progress = h('progress', { max: 100, value: 0, 'data-testid': 'upload-progress', 'aria-label': `Upload of ${file.name}` });
  const stats = h('span', { class: 'upload-stats', 'data-testid': 'upload-stats' }, 'Starting…');
  const status = h('span', { class: 'upload-status', 'data-testid': 'upload-status', 'data-state': 'starting' });
  const pause = h('button', { type: 'button', class: 'ghost', 'data-testid': 'upload-pause' }, 'Pause');
  const row = h(
    'li',
    { class: 'upload', 'data-testid': 'upload' },
    h('div', { class: 'upload-head' }, h('strong', {}, title || file.name), h('span', { class: 'muted' }, ` ${bytes(file.size)}`)),
    progress,
    h('div', { class: 'upload-foot' }, stats, status, pause),
  );
  const setStatus = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
  };

  // Speed over the last few seconds, not since the start, so a pause or a
  // reconnect doesn't skew the estimate.
  let samples = [];
  let paused = false;
  let createdReported = false;

  const upload = new tus.Upload(file, {
    endpoint: ENDPOINT,
    chunkSize: chunkSize(),
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
    metadata: { filename: file.name, course_id: courseId, title: title || file.name.replace(/\.[^.]+$/, '') },
    fingerprint: (f) => Promise.resolve(fingerprintOf(f, courseId)),
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    onBeforeRequest: async (req) => {
      const token = await freshToken(30000).catch(() => null);
      if (token) req.setHeader('Authorization', `Bearer ${token}`);
    },
    onUploadUrlAvailable: () => {
      const id = upload.url?.split('/').pop();
      row.dataset.videoId = id;
      if (!createdReported) {
        createdReported = true;
        onCreated?.(id);
      }
    },
    onProgress: (sent, total) => {
      const now = performance.now();
      samples.push([now, sent]);
      samples = samples.filter(([t]) => now - t < 5000);
      const pct = total ? (sent / total) * 100 : 0;
      progress.value = pct;
      row.dataset.offset = String(sent);
      let speed = 0;
      if (samples.length > 1) {
        const [t0, b0] = samples[0];
        speed = ((sent - b0) / (now - t0)) * 1000;
      }
      stats.textContent = `${pct.toFixed(0)}% · ${bytes(sent)} of ${bytes(total)}${
        speed > 0 ? ` · ${bytes(speed)}/s · ${eta((total - sent) / speed)}` : ''
      }`;
      if (!paused) setStatus('uploading', 'Uploading');
    },
    onShouldRetry: (err, attempt) => {
      const status = err?.originalResponse?.getStatus?.() ?? 0;
      samples = [];
      stats.textContent = `${progress.value.toFixed(0)}% sent`;
      setStatus('retrying', `Connection problem, retrying (attempt ${attempt + 1})…`);
      // Network errors, timeouts, server errors and a lapsed token retry;
      // a refusal (403, 404, 413…) is final.
      return status === 0 || status === 401 || status === 409 || status === 423 || status === 429 || status >= 500;
    },
    onError: (err) => {
      setStatus('error', explain(err));
      pause.disabled = true;
      row.classList.add('failed');
      // A refusal is final: don't offer to "resume" it on the next visit.
      if (err?.originalResponse) forgetStored(upload.url);
      onDone?.(upload.url?.split('/').pop());
    },
    onSuccess: () => {
      progress.value = 100;
      stats.textContent = `100% · ${bytes(file.size)}`;
      setStatus('done', 'Uploaded: processing starts shortly');
      pause.hidden = true;
      onDone?.(upload.url?.split('/').pop());
    },
  });

  pause.addEventListener('click', () => {
    if (paused) {
      paused = false;
      samples = [];
      pause.textContent = 'Pause';
      setStatus('uploading', 'Resuming');
      upload.start();
    } else {
      paused = true;
      pause.textContent = 'Resume';
      setStatus('paused', 'Paused');
      upload.abort(false);
    }
  });

  upload.findPreviousUploads().then((previous) => {
    if (previous.length) {
      // Newest first: the most recent attempt at this file is the one to finish.
      previous.sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime));
      upload.resumeFromPreviousUpload(previous[0]);
      setStatus('resuming', 'Resuming an earlier upload of this file');
      row.dataset.resumed = 'true';
    }
    upload.start();
  });

  return { element: row, upload };
}
