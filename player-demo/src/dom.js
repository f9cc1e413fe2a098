// A tiny DOM builder: enough for forms, tables and lists without a framework.

/**
 * h('button', { class: 'primary', onclick: fn, 'data-testid': 'x' }, 'Save')
 * Attributes starting with "on" become listeners; `false`/`null` are skipped;
 * children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'value') {
      el.value = value;
    } else if (key === 'checked' || key === 'disabled' || key === 'hidden') {
      el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled input; the label's `for` ties them for screen readers and clicks. */
let fieldSeq = 0;
export function field(label, inputAttrs = {}) {
  const id = inputAttrs.id || `f${++fieldSeq}`;
  const input = h('input', { ...inputAttrs, id });
  return { row: h('div', { class: 'field' }, h('label', { for: id }, label), input), input };
}

/** A labelled <select>; `options` is a list of [value, text]. */
export function selectField(label, options, attrs = {}) {
  const id = attrs.id || `f${++fieldSeq}`;
  const input = h('select', { ...attrs, id }, options.map(([v, t]) => h('option', { value: v }, t)));
  return { row: h('div', { class: 'field' }, h('label', { for: id }, label), input), input };
}

/** A short message that announces itself (the region is aria-live). */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const item = h('div', { class: `toast ${kind}`, 'data-testid': `toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

/** An inline error/notice region for a form or panel. */
export function notice(testid) {
  return h('p', { class: 'notice', role: 'alert', 'data-testid': testid, hidden: true });
}

export function showNotice(el, message, kind = 'error') {
  el.textContent = message || '';
  el.className = `notice ${kind}`;
  el.hidden = !message;
}

/**
 * A "Remove" button for the list item it sits in: awaits `remove()`, then
 * drops the item and announces `done`; a failure goes to `onError` and the
 * item stays.
 */
export function removeButton(ariaLabel, remove, done, onError) {
  return h(
    'button',
    {
      type: 'button',
      class: 'ghost danger',
      'aria-label': ariaLabel,
      onclick: async (ev) => {
        const item = ev.target.closest('li');
        try {
          await remove();
        } catch (err) {
          onError(err);
          return;
        }
        item.remove();
        toast(done);
      },
    },
    'Remove',
  );
}
