// Learner pages: my courses, then a course's videos (poster, title,
// duration, how much of each the learner watched) and the course's completion.

import { api, describe } from '../api.js';
import { h, notice, showNotice } from '../dom.js';
import { duration } from '../format.js';
import { resumePoint, videoProgress } from '../progress.js';

export async function coursesView(root) {
  const error = notice('courses-error');
  const list = h('ul', { class: 'tiles', 'data-testid': 'course-list' });
  root.append(h('h1', {}, 'My courses'), error, list);
  try {
    const { courses } = await api('/api/v1/courses');
    if (!courses.length) {
      list.replaceWith(h('p', { class: 'empty', 'data-testid': 'no-courses' }, 'You are not enrolled in any course yet.'));
      return;
    }
    for (const c of courses) {
      list.append(
        h('li', { class: 'tile' }, h('a', { href: `/courses/${c.id}`, 'data-testid': 'course-link' }, c.title)),
      );
    }
  } catch (err) {
    showNotice(error, describe(err));
  }
}

export async function courseView(root, { id }) {
  const error = notice('course-error');
  const heading = h('h1', {}, 'Course');
  const grid = h('ul', { class: 'video-grid', 'data-testid': 'video-list' });
  const completion = h('p', { class: 'meta', 'data-testid': 'course-completion', hidden: true });
  root.append(h('p', {}, h('a', { href: '/courses' }, '← My courses')), heading, completion, error, grid);
  try {
    const [course, { videos }] = await Promise.all([
      api(`/api/v1/courses/${encodeURIComponent(id)}`),
      api(`/api/v1/videos?course_id=${encodeURIComponent(id)}`),
    ]);
    heading.textContent = course.title;
    if (!videos.length) {
      grid.replaceWith(h('p', { class: 'empty' }, 'No videos in this course yet.'));
      return;
    }
    const ready = videos.filter((v) => v.status === 'ready');
    const progress = new Map(
      await Promise.all(ready.map(async (v) => [v.id, await videoProgress(v.id)])),
    );
    for (const v of videos) grid.append(videoCard(v, progress.get(v.id)));
    if (ready.length) {
      const done = ready.filter((v) => progress.get(v.id)?.completed).length;
      completion.hidden = false;
      completion.dataset.completed = String(done);
      completion.textContent = `Course progress: ${done} of ${ready.length} videos completed (${Math.round((100 * done) / ready.length)}%)`;
    }
  } catch (err) {
    showNotice(error, describe(err));
  }
}

/** "Completed", "Watched 40% · resume at 1:12", or nothing before the first view. */
function progressLine(p) {
  if (!p || !p.last_watched_at) return null;
  const share = p.duration_seconds > 0 ? Math.min(1, p.watched_seconds / p.duration_seconds) : 0;
  const at = resumePoint(p);
  const text = p.completed
    ? 'Completed'
    : `Watched ${Math.round(share * 100)}%${at === null ? '' : ` · resume at ${duration(Math.floor(at))}`}`;
  return h(
    'span',
    { class: 'video-progress', 'data-testid': 'video-progress', 'data-completed': String(p.completed), 'data-watched': p.watched_seconds.toFixed(1) },
    h('progress', { max: '100', value: String(Math.round(share * 100)), 'aria-label': 'Watched' }),
    text,
  );
}

function videoCard(v, progress) {
  const ready = v.status === 'ready';
  const poster = v.poster_url
    ? h('img', { src: v.poster_url, alt: '', loading: 'lazy', width: 320, height: 180 })
    : h('div', { class: 'poster-placeholder', 'aria-hidden': 'true' }, '▶');
  const body = [
    h('div', { class: 'poster' }, poster, h('span', { class: 'badge duration' }, duration(v.duration_seconds))),
    h('span', { class: 'video-title', 'data-testid': 'video-title' }, v.title),
    ready ? progressLine(progress) : null,
    ready ? null : h('span', { class: `status ${v.status}` }, statusText(v)),
  ];
  return h(
    'li',
    { class: 'video-card', 'data-testid': 'video-card', 'data-video-id': v.id, 'data-status': v.status },
    ready
      ? h('a', { href: `/watch/${v.id}`, 'data-testid': 'play-link', 'aria-label': `Play ${v.title}` }, body)
      : h('div', { class: 'unavailable' }, body),
  );
}

export function statusText(v) {
  switch (v.status) {
    case 'uploading':
      return 'Uploading…';
    case 'queued':
      return 'Waiting to be processed';
    case 'processing':
      return `Processing ${Math.round(v.progress || 0)}%`;
    case 'ready':
      return 'Ready';
    case 'failed':
      return `Failed${v.error ? `: ${v.error}` : ''}`;
    default:
      return v.status;
  }
}
