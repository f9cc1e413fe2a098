// Creator pages: my courses (create one), and a course's studio: learners,
// uploads, and each video's status live from the server's event stream.

import { api, describe } from '../api.js';
import { field, h, notice, removeButton, showNotice, toast } from '../dom.js';
import { duration, when } from '../format.js';
import { user } from '../session.js';
import { discardUpload, startUpload, unfinishedUploads } from '../upload.js';
import { statusText } from './courses.js';
import { watchStatus } from '../events.js';
import { captionsPanel } from './captions.js';

export async function studioView(root) {
  const error = notice('studio-error');
  const list = h('ul', { class: 'tiles', 'data-testid': 'studio-courses' });
  const title = field('Course title', { name: 'title', required: true, maxlength: 200, 'data-testid': 'course-title' });
  const form = h(
    'form',
    {
      class: 'card inline-form',
      'data-testid': 'create-course',
      onsubmit: async (ev) => {
        ev.preventDefault();
        showNotice(error, '');
        try {
          const course = await api('/api/v1/courses', { method: 'POST', body: { title: title.input.value.trim() } });
          title.input.value = '';
          list.prepend(courseTile(course));
          toast(`Course “${course.title}” created.`);
        } catch (err) {
          showNotice(error, describe(err));
        }
      },
    },
    h('h2', {}, 'New course'),
    title.row,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-course-submit' }, 'Create course'),
  );
  root.append(h('h1', {}, 'Studio'), form, error, h('h2', {}, 'Your courses'), list);
  try {
    const me = user();
    const { courses } = await api('/api/v1/courses');
    const mine = courses.filter((c) => me.role === 'admin' || c.owner_id === me.id);
    if (!mine.length) list.append(h('li', { class: 'empty' }, 'No courses yet: create one above.'));
    mine.forEach((c) => list.append(courseTile(c)));
  } catch (err) {
    showNotice(error, describe(err));
  }
}

function courseTile(c) {
  return h(
    'li',
    { class: 'tile' },
    h('a', { href: `/studio/courses/${c.id}`, 'data-testid': 'studio-course-link' }, c.title),
    h('span', { class: 'muted' }, ` created ${when(c.created_at)}`),
  );
}

export async function studioCourseView(root, { id }) {
  const stops = [];
  const error = notice('studio-course-error');
  const heading = h('h1', {}, 'Course');
  root.append(h('p', {}, h('a', { href: '/studio' }, '← Studio')), heading, error);
  let course;
  try {
    course = await api(`/api/v1/courses/${encodeURIComponent(id)}`);
  } catch (err) {
    showNotice(error, describe(err));
    return;
  }
  heading.textContent = course.title;

  const videos = videosPanel(course, stops);
  root.append(uploadPanel(course, videos), videos.element, enrollmentsPanel(course));
  return () => stops.forEach((stop) => stop());
}

function enrollmentsPanel(course) {
  const error = notice('enroll-error');
  const list = h('ul', { class: 'plain-list', 'data-testid': 'enrollments' });
  const email = field('Learner email', { type: 'email', name: 'email', required: true, 'data-testid': 'enroll-email' });
  const row = (e) =>
    h(
      'li',
      { 'data-testid': 'enrollment', 'data-email': e.email },
      h('span', {}, e.email),
      removeButton(
        `Remove ${e.email} from the course`,
        () => api(`/api/v1/courses/${course.id}/enrollments/${e.user_id}`, { method: 'DELETE' }),
        `${e.email} removed; their playback on this course ends.`,
        (err) => showNotice(error, describe(err)),
      ),
    );
  const form = h(
    'form',
    {
      class: 'inline-form',
      'data-testid': 'enroll-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        showNotice(error, '');
        try {
          const e = await api(`/api/v1/courses/${course.id}/enrollments`, {
            method: 'POST',
            body: { email: email.input.value.trim() },
          });
          email.input.value = '';
          list.append(row(e));
          toast(`${e.email} enrolled.`);
        } catch (err) {
          showNotice(error, err.status === 404 ? 'No user with that email.' : describe(err));
        }
      },
    },
    email.row,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'enroll-submit' }, 'Enroll'),
  );
  api(`/api/v1/courses/${course.id}/enrollments`)
    .then(({ enrollments }) => enrollments.forEach((e) => list.append(row(e))))
    .catch((err) => showNotice(error, describe(err)));
  return h('section', { class: 'card', 'aria-labelledby': 'enroll-h' }, h('h2', { id: 'enroll-h' }, 'Learners'), form, error, list);
}

function uploadPanel(course, videos) {
  const title = field('Video title', { name: 'title', maxlength: 200, 'data-testid': 'upload-title', placeholder: 'From the file name if empty' });
  const input = h('input', { type: 'file', id: 'upload-file', accept: 'video/*', class: 'visually-hidden', 'data-testid': 'upload-input' });
  const zone = h(
    'label',
    { for: 'upload-file', class: 'dropzone', 'data-testid': 'dropzone' },
    h('strong', {}, 'Drop a video here'),
    h('span', {}, ' or '),
    h('span', { class: 'linkish' }, 'choose a file'),
  );
  const uploads = h('ul', { class: 'uploads', 'data-testid': 'uploads' });
  const pending = h('ul', { class: 'plain-list', 'data-testid': 'unfinished-uploads' });

  const begin = (file) => {
    if (!file) return;
    const { element } = startUpload(file, {
      courseId: course.id,
      title: title.input.value.trim(),
      onCreated: () => videos.reload(),
      onDone: (videoId) => {
        videos.reload();
        pending.querySelector(`[data-upload-url$="${videoId}"]`)?.remove();
      },
    });
    title.input.value = '';
    uploads.prepend(element);
  };
  input.addEventListener('change', () => {
    begin(input.files[0]);
    input.value = '';
  });
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    begin(ev.dataTransfer?.files?.[0]);
  });

  unfinishedUploads(course.id).then((list) => {
    for (const u of list) {
      pending.append(
        h(
          'li',
          { 'data-testid': 'unfinished-upload', 'data-upload-url': u.uploadUrl || '' },
          h('span', {}, `Interrupted: “${u.metadata?.title || u.metadata?.filename}” (${u.metadata?.filename}). Choose the same file again to resume where it stopped.`),
          h(
            'button',
            {
              type: 'button',
              class: 'ghost danger',
              onclick: async (ev) => {
                await discardUpload(u);
                ev.target.closest('li').remove();
                videos.reload();
              },
            },
            'Discard',
          ),
        ),
      );
    }
    // Said once the list is known, so "nothing to resume" can be told from "not yet looked".
    pending.dataset.loaded = 'true';
  });

  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'upload-h' },
    h('h2', { id: 'upload-h' }, 'Upload a video'),
    title.row,
    input,
    zone,
    pending,
    uploads,
  );
}

function videosPanel(course, stops) {
  const error = notice('videos-error');
  const list = h('ul', { class: 'studio-videos', 'data-testid': 'studio-videos' });
  const streams = new Map();
  stops.push(() => streams.forEach((stop) => stop()));

  const render = (v) => {
    let row = list.querySelector(`[data-video-id="${v.id}"]`);
    const fresh = h(
      'li',
      { class: 'studio-video', 'data-testid': 'studio-video', 'data-video-id': v.id, 'data-status': v.status },
      v.poster_url ? h('img', { src: v.poster_url, alt: '', width: 96, height: 54 }) : h('div', { class: 'thumb-placeholder', 'aria-hidden': 'true' }),
      h(
        'div',
        { class: 'grow' },
        h('strong', { 'data-testid': 'studio-video-title' }, v.title),
        h(
          'div',
          { class: 'muted' },
          h('span', { class: `status ${v.status}`, 'data-testid': 'video-status' }, statusText(v)),
          v.status === 'ready' ? ` · ${duration(v.duration_seconds)} · ${(v.renditions || []).map((r) => `${r.height}p`).join(', ')}` : '',
        ),
        v.status === 'processing' || v.status === 'queued'
          ? h('progress', { max: 100, value: v.progress || 0, 'data-testid': 'transcode-progress', 'aria-label': `Processing ${v.title}` })
          : null,
        v.status === 'failed' && v.error ? h('p', { class: 'notice error', 'data-testid': 'video-error' }, v.error) : null,
        v.status === 'ready' ? captionsPanel(v) : null,
      ),
      v.status === 'ready' ? h('a', { href: `/watch/${v.id}`, class: 'button ghost' }, 'Watch') : null,
      deleteButton(v),
    );
    if (row) row.replaceWith(fresh);
    else list.append(fresh);
    if (v.status === 'ready' || v.status === 'failed') {
      streams.get(v.id)?.();
      streams.delete(v.id);
    } else if (!streams.has(v.id)) {
      streams.set(v.id, watchStatus(v.id, render));
    }
  };

  const deleteButton = (v) => {
    let armed = false;
    const btn = h('button', { type: 'button', class: 'ghost danger', 'data-testid': 'delete-video', 'aria-label': `Delete ${v.title}` }, 'Delete');
    btn.addEventListener('click', async () => {
      if (!armed) {
        // Two presses: a stray click or Enter never deletes a video.
        armed = true;
        btn.textContent = 'Press again to delete';
        setTimeout(() => {
          armed = false;
          btn.textContent = 'Delete';
        }, 5000);
        return;
      }
      try {
        await api(`/api/v1/videos/${v.id}`, { method: 'DELETE' });
        streams.get(v.id)?.();
        streams.delete(v.id);
        list.querySelector(`[data-video-id="${v.id}"]`)?.remove();
        toast(`“${v.title}” deleted.`);
      } catch (err) {
        showNotice(error, describe(err));
      }
    });
    return btn;
  };

  const reload = async () => {
    try {
      const { videos } = await api(`/api/v1/videos?course_id=${encodeURIComponent(course.id)}`);
      videos.forEach(render);
    } catch (err) {
      showNotice(error, describe(err));
    }
  };
  reload();

  return {
    reload,
    element: h('section', { class: 'card', 'aria-labelledby': 'videos-h' }, h('h2', { id: 'videos-h' }, 'Videos'), error, list),
  };
}
