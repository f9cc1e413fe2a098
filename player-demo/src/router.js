// Client-side routes. The server answers each of these paths' first segment
// with index.html (APP_SECTIONS in src/http/demo.rs): keep the two in step.

const routes = [];
let outlet = null;
let cleanup = null;
let guard = null;
let renderSeq = 0;

/** route('/watch/:id', view): view(params, query) renders into the outlet. */
export function route(pattern, view, options = {}) {
  const keys = [];
  const source = pattern
    .replace(/\/:([a-z_]+)/g, (_, key) => {
      keys.push(key);
      return '/([^/]+)';
    });
  routes.push({ regex: new RegExp(`^${source}/?$`), keys, view, options });
}

/** guardFn(route) may return a path to redirect to (e.g. the login page). */
export function start(el, guardFn) {
  outlet = el;
  guard = guardFn;
  window.addEventListener('popstate', () => render());
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest?.('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !match(url.pathname)) return;
    ev.preventDefault();
    navigate(url.pathname + url.search);
  });
  return render();
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render();
}

function match(pathname) {
  for (const r of routes) {
    const m = r.regex.exec(pathname);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
      return { route: r, params };
    }
  }
  return null;
}

/** Renders the current location; a view may return a cleanup function. */
export async function render() {
  const seq = ++renderSeq;
  if (typeof cleanup === 'function') {
    try {
      cleanup();
    } catch (e) {
      console.error(e);
    }
  }
  cleanup = null;
  const found = match(location.pathname) || match('/404');
  const redirect = guard?.(found?.route);
  if (redirect && redirect !== location.pathname) return navigate(redirect, { replace: true });
  // A fresh root per render: a slow view that finishes after the person has
  // moved on writes into a detached node, never over the new page.
  const root = document.createElement('div');
  root.className = 'view';
  outlet.replaceChildren(root);
  const query = new URLSearchParams(location.search);
  let result;
  try {
    result = await found.route.view(root, found.params, query);
  } catch (err) {
    console.error(err);
    const p = document.createElement('p');
    p.className = 'notice error';
    p.setAttribute('role', 'alert');
    p.dataset.testid = 'view-error';
    p.textContent = `This page could not load: ${err?.message || err}`;
    root.append(p);
  }
  if (seq !== renderSeq) {
    // Another navigation started while this view was loading.
    if (typeof result === 'function') result();
    return;
  }
  cleanup = result;
  const heading = outlet.querySelector('h1');
  document.title = heading ? `${heading.textContent} · sealcast` : 'sealcast';
  // Move focus to the new page (for screen readers and keyboards) unless
  // the view already put it somewhere useful, like a form's first field.
  if (!outlet.contains(document.activeElement)) outlet.focus({ preventScroll: true });
}
