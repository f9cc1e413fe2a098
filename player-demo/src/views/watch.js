// The watch page: video details, the resume offer and the player.

import { api, describe } from '../api.js';
import { h, notice, showNotice } from '../dom.js';
import { duration } from '../format.js';
import { user } from '../session.js';
import { resumePoint, videoProgress } from '../progress.js';

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
  const [{ mountPlayer }, progress] = await Promise.all([import('../player.js'), videoProgress(video.id)]);
  let player = null;
  const mount = (startAt) => {
    player = mountPlayer(video, user(), { startAt });
    root.append(player.element, h('p', { class: 'meta' }, `Length ${duration(video.duration_seconds)}`));
  };
  const at = resumePoint(progress);
  if (at === null) {
    mount(-1);
  } else {
    // Where the learner left off: resume there or start over.
    const resume = h('button', { type: 'button', 'data-testid': 'resume' }, `Resume at ${duration(Math.floor(at))}`);
    const over = h('button', { type: 'button', class: 'ghost', 'data-testid': 'start-over' }, 'Start over');
    const offer = h('div', { class: 'resume-offer', 'data-testid': 'resume-offer' }, resume, over);
    root.append(offer);
    resume.addEventListener('click', () => (offer.remove(), mount(at)));
    over.addEventListener('click', () => (offer.remove(), mount(0)));
  }
  return () => player?.destroy();
}
