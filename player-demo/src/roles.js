// Roles: where each one starts, and which pages each may open.

/** Where each role starts. */
export function homeFor(u) {
  if (!u) return '/login';
  if (u.role === 'admin') return '/admin';
  if (u.role === 'creator') return '/studio';
  return '/courses';
}

/** Pages for `need` are open to these roles (the server checks again). */
const ALLOWED = {
  learner: ['learner', 'creator', 'admin'],
  creator: ['creator', 'admin'],
  admin: ['admin'],
};

export function may(u, need) {
  return Boolean(u) && (!need || ALLOWED[need].includes(u.role));
}
