// The watch page: video details and the player.

import { api, describe } from '../api.js';
import { h, notice, showNotice } from '../dom.js';
import { duration } from '../format.js';
import { user } from '../session.js';

export async function watchView(root, { id }) {
  const error = notice('watch-error');
  const heading = h('h1', {}, 'Video');
  const back = h('a', { href: '/courses' }, '← My courses');
  root.append(h('p', {}, back), heading, error);
  let video;
  try {
    video = await api(`/api/v1/videos/${encodeURIComponent(id)}`);
  } catch (err) {
    showNotice(error, describe(err));
    return;
  }
  heading.textContent = video.title;
  back.href = `/courses/${video.course_id}`;
  back.textContent = '← Back to the course';
  if (video.status !== 'ready') {
    showNotice(error, `This video is not ready yet (${video.status}).`, 'info');
    return;
  }
  // hls.js is most of the app's weight: only the watch page loads it.
  const { mountPlayer } = await import('../player.js');
  const player = mountPlayer(video, user());
  root.append(player.element, h('p', { class: 'meta' }, `Length ${duration(video.duration_seconds)}`));
  return () => player.destroy();
}
