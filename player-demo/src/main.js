// Boot: restore the session from the refresh cookie, draw the top bar, route.

import './style.css';
import { h, replace, toast } from './dom.js';
import { route, start, navigate, render } from './router.js';
import { logout, onSessionChange, refresh, user } from './session.js';
import { loginView } from './views/login.js';
import { coursesView, courseView } from './views/courses.js';
import { watchView } from './views/watch.js';
import { studioView, studioCourseView } from './views/studio.js';
import { adminView } from './views/admin.js';
import { homeFor, may } from './roles.js';

route('/', async () => navigate(homeFor(user()), { replace: true }), { public: true });
route('/login', loginView, { public: true });
route('/courses', coursesView, { role: 'learner' });
route('/courses/:id', courseView, { role: 'learner' });
route('/watch/:id', watchView, { role: 'learner' });
route('/studio', studioView, { role: 'creator' });
route('/studio/courses/:id', studioCourseView, { role: 'creator' });
route('/admin', adminView, { role: 'admin' });
route('/404', (root) => {
  root.append(h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '/' }, 'Go to the start page')));
}, { public: true });

function guard(r) {
  const u = user();
  if (!r || r.options.public) return null;
  if (!u) return `/login?next=${encodeURIComponent(location.pathname)}`;
  if (!may(u, r.options.role)) return homeFor(u);
  return null;
}

function drawTopbar(u) {
  const bar = document.getElementById('topbar');
  const links = [];
  if (u) {
    links.push(h('a', { href: '/courses', 'data-testid': 'nav-courses' }, 'My courses'));
    if (u.role === 'creator' || u.role === 'admin') {
      links.push(h('a', { href: '/studio', 'data-testid': 'nav-studio' }, 'Studio'));
    }
    if (u.role === 'admin') links.push(h('a', { href: '/admin', 'data-testid': 'nav-admin' }, 'Admin'));
  }
  replace(
    bar,
    h('a', { class: 'brand', href: '/' }, 'sealcast'),
    u ? h('nav', { 'aria-label': 'Main' }, links) : null,
    u
      ? h(
          'div',
          { class: 'who' },
          h('span', { 'data-testid': 'whoami', title: u.email }, `${u.email} · ${u.role}`),
          h(
            'button',
            {
              type: 'button',
              class: 'ghost',
              'data-testid': 'logout',
              onclick: async () => {
                await logout();
                navigate('/login', { replace: true });
              },
            },
            'Log out',
          ),
        )
      : null,
  );
}

onSessionChange((u, reason) => {
  drawTopbar(u);
  if (u || reason === 'logout' || location.pathname === '/login') return;
  // Signed out (the refresh was refused: logged out elsewhere, disabled or
  // revoked). A player that already stopped keeps its reason on screen;
  // any other page goes to the login form.
  if (document.querySelector('[data-testid=player][data-state=stopped]')) return;
  toast('You have been signed out. Log in again to continue.', 'error');
  render();
});

async function boot() {
  await refresh().catch(() => false);
  drawTopbar(user());
  await start(document.getElementById('main'), guard);
}

boot();
