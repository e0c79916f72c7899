// Small helpers shared by the demo and the admin console: DOM building
// without innerHTML (every user-supplied string becomes a text node),
// times, status labels and the HTTP API.

// h('div', {class: 'x', onclick: fn, 'data-id': 'u'}, 'text', child, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'hue') el.style.setProperty('--hue', String(v));
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces the children of el.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function $(sel) { return document.querySelector(sel); }

export function timeAgo(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const hr = Math.round(m / 60);
  if (hr < 24) return `${hr} h ago`;
  const d = Math.round(hr / 24);
  return d === 1 ? 'yesterday' : `${d} days ago`;
}

export function clock(ms, withMs = false) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  const t = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return withMs ? `${t}.${p(d.getMilliseconds(), 3)}` : t;
}

export function dateTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${clock(ms)}`;
}

export const STATUS_LABEL = {
  online: 'Online', away: 'Away', dnd: 'Do not disturb', invisible: 'Invisible', offline: 'Offline',
};

// "Away · idle", "Online", "Offline"
export function statusLabel(p) {
  if (!p) return 'Unknown';
  const l = STATUS_LABEL[p.status] ?? p.status;
  return p.auto ? `${l} · idle` : l;
}

export function displayName(p, fallback) {
  const n = p?.meta?.user_name;
  return typeof n === 'string' && n.trim() ? n : (fallback ?? p?.user_id ?? '?');
}

export function initials(name) {
  const parts = String(name).trim().split(/[\s._-]+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[1][0] : String(name).slice(0, 2);
  return s.toUpperCase();
}

// A stable hue per id, for avatars.
export function hue(id) {
  let x = 0;
  for (const ch of String(id)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % 360;
}

export function avatar(id, name, status, size = '') {
  return h('span', { class: `avatar ${size}`, hue: hue(id), 'aria-hidden': 'true' },
    initials(name ?? id),
    status ? h('span', { class: `dot dot-${status}` }) : null);
}

// The HTTP API of the gateway that served the page. auth: {token} (jwt)
// or {user} (auth none: names the caller). Returns {status, json}.
export async function api(method, path, body, auth = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  else if (auth.user) headers['x-user-id'] = auth.user;
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    return { status: 0, json: { error: { code: 'network', message: String(e.message ?? e) } } };
  }
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: r.status, json };
}

export function errorText(r) {
  return r?.json?.error?.message ?? `HTTP ${r?.status}`;
}

// The claims of a JWT (not verified: the gateway does that), or {}.
export function tokenClaims(token) {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

let toastTimer;
export function toast(text, kind = 'info') {
  let el = document.querySelector('.toast');
  if (!el) {
    el = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(el);
  }
  el.className = `toast show ${kind}`;
  el.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 3500);
}
