// Admin: users (create, disable), live playback sessions, revocations, audit log.

import { api, describe } from '../api.js';
import { field, h, notice, selectField, showNotice, toast } from '../dom.js';
import { when } from '../format.js';

export async function adminView(root) {
  const stops = [];
  root.append(h('h1', {}, 'Admin'), usersPanel(), sessionsPanel(stops), revokeVideoPanel(), auditPanel());
  return () => stops.forEach((s) => s());
}

/** POST /admin/revocations and say what happened. */
async function revoke(body, label, error) {
  try {
    const res = await api('/api/v1/admin/revocations', { method: 'POST', body });
    const n = res?.sessions_ended ?? 0;
    toast(`${label}: ${n} live session${n === 1 ? '' : 's'} ended.`);
    return true;
  } catch (err) {
    showNotice(error, describe(err));
    return false;
  }
}

function table(testid, headers) {
  const body = h('tbody');
  return {
    body,
    element: h(
      'div',
      { class: 'table-wrap' },
      h('table', { 'data-testid': testid }, h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))), body),
    ),
  };
}

function usersPanel() {
  const error = notice('users-error');
  const users = table('users-table', ['Email', 'Role', 'State', 'Created', '']);
  const email = field('Email', { type: 'email', required: true, autocomplete: 'off', 'data-testid': 'new-user-email' });
  const password = field('Password', { type: 'password', required: true, minlength: 8, autocomplete: 'new-password', 'data-testid': 'new-user-password' });
  const role = selectField('Role', [['learner', 'Learner'], ['creator', 'Creator'], ['admin', 'Admin']], { 'data-testid': 'new-user-role' });

  const row = (u) =>
    h(
      'tr',
      { 'data-testid': 'user-row', 'data-email': u.email, 'data-user-id': u.id, 'data-disabled': String(Boolean(u.disabled)) },
      h('td', {}, u.email),
      h('td', {}, u.role),
      h('td', { 'data-testid': 'user-state' }, u.disabled ? 'Disabled' : 'Active'),
      h('td', {}, when(u.created_at)),
      h(
        'td',
        {},
        u.disabled
          ? null
          : h(
              'button',
              {
                type: 'button',
                class: 'danger',
                'data-testid': 'disable-user',
                'aria-label': `Disable ${u.email} and end their sessions`,
                onclick: async (ev) => {
                  ev.target.disabled = true;
                  if (await revoke({ user_id: u.id }, `${u.email} disabled`, error)) load();
                  else ev.target.disabled = false;
                },
              },
              'Disable',
            ),
      ),
    );

  const load = async () => {
    try {
      const res = await api('/api/v1/users');
      users.body.replaceChildren(...res.users.map(row));
    } catch (err) {
      showNotice(error, describe(err));
    }
  };

  const form = h(
    'form',
    {
      class: 'inline-form',
      'data-testid': 'create-user',
      onsubmit: async (ev) => {
        ev.preventDefault();
        showNotice(error, '');
        try {
          const u = await api('/api/v1/users', {
            method: 'POST',
            body: { email: email.input.value.trim(), password: password.input.value, role: role.input.value },
          });
          email.input.value = '';
          password.input.value = '';
          toast(`${u.role} ${u.email} created.`);
          load();
        } catch (err) {
          showNotice(error, err.code === 'email_taken' ? 'That email already has an account.' : describe(err));
        }
      },
    },
    email.row,
    password.row,
    role.row,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-user-submit' }, 'Create user'),
  );
  load();
  return h('section', { class: 'card', 'aria-labelledby': 'users-h' }, h('h2', { id: 'users-h' }, 'Users'), form, error, users.element);
}

function sessionsPanel(stops) {
  const error = notice('sessions-error');
  const sessions = table('sessions-table', ['Viewer', 'Video', 'Started', 'Expires', 'From', '']);
  const action = (label, testid, body, what) =>
    h(
      'button',
      {
        type: 'button',
        class: 'ghost danger',
        'data-testid': testid,
        onclick: async () => {
          if (await revoke(body, what, error)) load();
        },
      },
      label,
    );
  const row = (s) =>
    h(
      'tr',
      { 'data-testid': 'session-row', 'data-session-id': s.id, 'data-email': s.email },
      h('td', {}, s.email),
      h('td', {}, s.video_title),
      h('td', {}, when(s.started_at)),
      h('td', {}, when(s.expires_at)),
      h('td', { title: s.user_agent || '' }, s.ip || '–'),
      h(
        'td',
        { class: 'actions' },
        action('End session', 'revoke-session', { session_id: s.id }, 'Session ended'),
        action('Revoke viewer', 'revoke-user', { user_id: s.user_id }, `${s.email} revoked`),
        action('Revoke video', 'revoke-video', { video_id: s.video_id }, `“${s.video_title}” revoked`),
      ),
    );
  const load = async () => {
    try {
      const res = await api('/api/v1/admin/sessions');
      sessions.body.replaceChildren(
        ...(res.sessions.length
          ? res.sessions.map(row)
          : [h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No one is watching right now.'))]),
      );
      showNotice(error, '');
    } catch (err) {
      showNotice(error, describe(err));
    }
  };
  load();
  const timer = setInterval(load, 5000);
  stops.push(() => clearInterval(timer));
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'sessions-h' },
    h('h2', { id: 'sessions-h' }, 'Live sessions'),
    h('button', { type: 'button', class: 'ghost', 'data-testid': 'reload-sessions', onclick: load }, 'Refresh'),
    error,
    sessions.element,
  );
}

function revokeVideoPanel() {
  const error = notice('revoke-video-error');
  const id = field('Video id', { required: true, pattern: '[0-9a-fA-F]{32}', 'data-testid': 'revoke-video-id' });
  const form = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        showNotice(error, '');
        if (await revoke({ video_id: id.input.value.trim() }, 'Video revoked', error)) id.input.value = '';
      },
    },
    id.row,
    h('button', { type: 'submit', class: 'danger', 'data-testid': 'revoke-video-submit' }, 'Revoke every session of this video'),
  );
  return h('section', { class: 'card', 'aria-labelledby': 'rv-h' }, h('h2', { id: 'rv-h' }, 'Revoke a video'), form, error);
}

function auditPanel() {
  const error = notice('audit-error');
  const audit = table('audit-table', ['When', 'Action', 'Outcome', 'Reason', 'Actor', 'Session', 'Video', 'IP']);
  let before = null;
  const more = h('button', { type: 'button', class: 'ghost', 'data-testid': 'audit-more' }, 'Older entries');
  const short = (id) => (id ? h('code', { title: id }, id.slice(0, 8)) : '–');
  const load = async (reset) => {
    try {
      const q = new URLSearchParams({ limit: '50' });
      if (!reset && before) q.set('before', before);
      const res = await api(`/api/v1/admin/audit?${q}`);
      const rows = res.entries.map((e) =>
        h(
          'tr',
          { 'data-testid': 'audit-row', 'data-action': e.action, 'data-outcome': e.outcome },
          h('td', {}, when(e.at)),
          h('td', {}, e.action),
          h('td', {}, e.outcome),
          h('td', {}, e.reason || '–'),
          h('td', {}, short(e.actor_id)),
          h('td', {}, short(e.session_id)),
          h('td', {}, short(e.video_id)),
          h('td', {}, e.ip || '–'),
        ),
      );
      if (reset) audit.body.replaceChildren(...rows);
      else audit.body.append(...rows);
      before = res.next_before;
      more.hidden = !before;
    } catch (err) {
      showNotice(error, describe(err));
    }
  };
  more.addEventListener('click', () => load(false));
  load(true);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'audit-h' },
    h('h2', { id: 'audit-h' }, 'Audit log'),
    h('button', { type: 'button', class: 'ghost', 'data-testid': 'reload-audit', onclick: () => load(true) }, 'Refresh'),
    error,
    audit.element,
    more,
  );
}
