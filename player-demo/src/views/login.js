// The sign-in form.

import { field, h, notice, showNotice } from '../dom.js';
import { navigate } from '../router.js';
import { login, user } from '../session.js';
import { homeFor } from '../roles.js';

export function loginView(root, _params, query) {
  if (user()) {
    navigate(safeNext(query.get('next')) || homeFor(user()), { replace: true });
    return;
  }
  const email = field('Email', { type: 'email', name: 'email', autocomplete: 'username', required: true, 'data-testid': 'login-email' });
  const password = field('Password', {
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
    'data-testid': 'login-password',
  });
  const error = notice('login-error');
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Log in');
  const form = h(
    'form',
    {
      class: 'card narrow',
      'data-testid': 'login-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        submit.disabled = true;
        showNotice(error, '');
        try {
          const u = await login(email.input.value.trim(), password.input.value);
          navigate(safeNext(query.get('next')) || homeFor(u), { replace: true });
        } catch (err) {
          showNotice(error, err.message);
          password.input.select();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h1', {}, 'Log in'),
    email.row,
    password.row,
    error,
    submit,
  );
  root.append(form);
  email.input.focus();
}

/** Only same-site paths: a crafted ?next= must not send anyone elsewhere. */
function safeNext(next) {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/login')) return null;
  return next;
}
