// The admin console: who is online, one user's sessions (with a kick)
// and history, thread membership, a live event feed, and the health of
// every process. Everything goes through the gateway's HTTP API
// (PROTOCOL §6) with an admin token (auth jwt) or none (auth none: every
// HTTP caller is an admin); the feed is the SDK's WebSocket session,
// which watches the users in the list.
import { PresenceClient } from '/v1/client.js';
import {
  $, h, fill, api, errorText, avatar, timeAgo, clock, dateTime, statusLabel, displayName, toast,
} from '/ui/ui.js';

const TOKEN_KEY = 'presence-admin-token';
const GATEWAYS_KEY = 'presence-admin-gateways';
const PAGE = 10;
const POLL_MS = 5000;
const CONSOLE_USER = 'admin-console'; // the feed's user under auth none

let token = sessionStorage.getItem(TOKEN_KEY);
let authNone = false;
let client = null;
const users = new Map(); // id -> {id, presence, connections, last_seen}
let page = 0;
let selected = null;
let events = 0;
let pollTimer = null;

const creds = () => (token ? { token } : {});

// ---- opening

async function open() {
  const r = await api('GET', '/v1/online', undefined, creds());
  if (r.status === 401 || r.status === 403) {
    $('#token-card').hidden = false;
    $('#console').hidden = true;
    if (token) {
      const e = $('#token-error');
      e.hidden = false;
      e.textContent = r.status === 403 ? 'That token is valid but not an admin token ("admin": true).' : 'The gateway refused that token.';
      token = null;
      sessionStorage.removeItem(TOKEN_KEY);
    }
    setAuthPill('Admin token needed', 'warn');
    return;
  }
  authNone = !token;
  setAuthPill(authNone ? 'auth none: every caller is admin' : 'Signed in with an admin token', authNone ? 'warn' : 'ok');
  $('#forget-token').hidden = authNone;
  $('#token-card').hidden = true;
  $('#console').hidden = false;
  startFeed();
  await poll();
  clearInterval(pollTimer);
  pollTimer = setInterval(poll, POLL_MS);
  const lastThread = sessionStorage.getItem('presence-admin-thread');
  if (lastThread) {
    $('#thread-id').value = lastThread;
    loadThread(lastThread);
  }
}

function setAuthPill(text, kind) {
  const p = $('#auth-state');
  p.className = `pill hide-narrow ${kind}`;
  p.textContent = text;
}

// ---- the live feed: an SDK session that watches the listed users

function startFeed() {
  if (client) return;
  client = new PresenceClient({
    ...(token ? { token } : { userId: CONSOLE_USER, status: 'invisible' }),
    device: 'admin-console',
    autoAway: false,
  });
  client.on('state', (s) => {
    const pill = $('#feed-state'), dot = $('#feed-dot'), text = $('#feed-text');
    pill.className = 'pill';
    if (s.state === 'online') { pill.classList.add('ok'); dot.className = 'dot dot-online'; text.textContent = 'Live'; }
    else if (s.state === 'closed') { pill.classList.add('bad'); dot.className = 'dot dot-dnd'; text.textContent = `Feed closed (${s.reason})`; }
    else { pill.classList.add('warn'); dot.className = 'dot dot-connecting'; text.textContent = 'Reconnecting…'; }
  });
  client.on('presence', (p, prev) => {
    if (p.user_id === client.userId && authNone) return;
    const u = user(p.user_id);
    u.presence = p;
    if (!p.is_online) u.connections = 0;
    if (prev) feed(p, prev);
    renderUsers();
    if (selected === p.user_id) {
      renderDetailHead();
      loadSessions();
    }
  });
  client.connect().catch((e) => toast(`Live feed: ${e.message}`, 'bad'));
}

function feed(p, prev) {
  events++;
  $('#stat-events').textContent = String(events);
  const st = (x) => h('span', { class: `badge ${x.status}` }, h('span', { class: `dot dot-${x.status}` }), statusLabel(x));
  const ul = $('#feed');
  ul.prepend(h('li', {},
    h('time', {}, clock(Date.now(), true)),
    h('span', {}, h('span', { class: 'who' }, displayName(p)), ' ', st(prev), h('span', { class: 'arrow' }, '→'), st(p))));
  while (ul.children.length > 100) ul.lastElementChild.remove();
}

function user(id) {
  let u = users.get(id);
  if (!u) users.set(id, (u = { id, presence: null, connections: 0, last_seen: null }));
  return u;
}

// ---- users

async function poll() {
  const r = await api('GET', '/admin/online-users', undefined, creds());
  if (r.status !== 200) {
    $('#stat-online-sub').textContent = errorText(r);
  } else {
    const online = new Set();
    for (const o of r.json.online_users) {
      const u = user(String(o.user_id));
      u.connections = o.connections ?? 0;
      online.add(u.id);
    }
    for (const u of users.values()) if (!online.has(u.id)) u.connections = 0;
    $('#stat-online').textContent = String(online.size);
    $('#stat-sessions').textContent = String(r.json.online_users.reduce((n, o) => n + (o.connections ?? 0), 0));
    $('#stat-online-sub').textContent = `updated ${clock(Date.now())}`;
    // the SDK sends this once connected, and again after reconnects
    const fresh = [...users.keys()].filter((id) => !client.get(id) && id !== client.userId);
    if (fresh.length) {
      try {
        for (const p of await client.watch(fresh)) user(p.user_id).presence = p;
      } catch { /* the SDK re-sends watches after a reconnect */ }
    }
    renderUsers();
  }
  if (selected) loadSessions();
  health();
}

function matches(u, q) {
  if (!q) return true;
  q = q.toLowerCase();
  return u.id.toLowerCase().includes(q) || displayName(u.presence, u.id).toLowerCase().includes(q);
}

const ORDER = { online: 0, dnd: 1, away: 2, invisible: 3, offline: 4 };

function visibleUsers() {
  const q = $('#search').value.trim();
  const showOffline = $('#show-offline').checked;
  return [...users.values()]
    .filter((u) => !(authNone && u.id === CONSOLE_USER))
    .filter((u) => showOffline || u.connections > 0 || u.presence?.is_online || u.id === selected)
    .filter((u) => matches(u, q))
    .sort((a, b) => (ORDER[a.presence?.status ?? 'online'] - ORDER[b.presence?.status ?? 'online']) ||
      displayName(a.presence, a.id).localeCompare(displayName(b.presence, b.id)));
}

function renderUsers() {
  const list = visibleUsers();
  const pages = Math.max(1, Math.ceil(list.length / PAGE));
  page = Math.min(page, pages - 1);
  const rows = list.slice(page * PAGE, page * PAGE + PAGE);
  const now = client ? client.serverNow() : Date.now();
  fill($('#users'), rows.length ? rows.map((u) => {
    const p = u.presence;
    const status = p?.status ?? 'online';
    const name = displayName(p, u.id);
    return h('tr', {
      class: u.id === selected ? 'selected' : '', 'data-user': u.id, 'data-status': p?.status, onclick: () => select(u.id),
    },
      h('td', {}, h('div', { class: 'user-cell' }, avatar(u.id, name, status, 'sm'),
        h('div', { class: 'names' }, h('div', { class: 'n' }, name), name !== u.id ? h('div', { class: 'i' }, u.id) : null))),
      h('td', {}, h('span', { class: `badge ${status}` }, h('span', { class: `dot dot-${status}` }), p ? statusLabel(p) : 'Online'),
        p?.text ? h('div', { class: 'muted small' }, p.text) : null),
      h('td', { class: 'num' }, String(u.connections)),
      h('td', { class: 'muted small' }, p && !p.is_online ? timeAgo(p.last_seen, now) : 'now'));
  }) : h('tr', {}, h('td', { colspan: 4, class: 'empty' }, $('#search').value ? 'No user matches.' : 'Nobody is online.')));
  $('#page-info').textContent = list.length
    ? `${page * PAGE + 1}–${page * PAGE + rows.length} of ${list.length} · page ${page + 1} of ${pages}`
    : '';
  $('#prev').disabled = page === 0;
  $('#next').disabled = page >= pages - 1;
}

// ---- one user

async function select(id) {
  selected = id;
  renderUsers();
  $('#detail-empty').hidden = true;
  $('#detail-body').hidden = false;
  disarmKick();
  if (!client.get(id)) {
    try { user(id).presence = (await client.watch([id]))[0]; } catch { /* shown as unknown */ }
  }
  renderDetailHead();
  loadSessions();
  loadHistory();
}

function renderDetailHead() {
  const u = user(selected);
  const p = u.presence;
  const name = displayName(p, u.id);
  fill($('#detail-avatar'), avatar(u.id, name, p?.status ?? 'offline', 'lg'));
  $('#detail-name').textContent = name;
  $('#detail-id').textContent = u.id;
  fill($('#detail-status'), p ? h('span', { class: `badge ${p.status}` }, h('span', { class: `dot dot-${p.status}` }), statusLabel(p)) : null);
}

async function loadSessions() {
  const id = selected;
  const r = await api('GET', `/v1/users/${encodeURIComponent(id)}/sessions`, undefined, creds());
  if (id !== selected) return;
  if (r.status !== 200) return fill($('#sessions'), h('tr', {}, h('td', { colspan: 5, class: 'empty' }, errorText(r))));
  const list = r.json.sessions;
  $('#kick').disabled = list.length === 0;
  fill($('#sessions'), list.length ? list.map((s) => h('tr', {},
    h('td', { class: 'mono' }, String(s.session_id)),
    h('td', {}, s.gateway ?? '—'),
    h('td', {}, s.device ?? '—'),
    h('td', { class: 'small' }, dateTime(s.since)),
    h('td', {}, s.idle ? h('span', { class: 'badge away' }, 'idle') : h('span', { class: 'badge online' }, 'active'))))
    : h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No live sessions.')));
}

async function loadHistory() {
  const id = selected;
  const r = await api('GET', `/v1/users/${encodeURIComponent(id)}/history?limit=50`, undefined, creds());
  if (id !== selected) return;
  if (r.status !== 200) {
    $('#history-note').textContent = '';
    return fill($('#history'), h('tr', {}, h('td', { colspan: 2, class: 'empty' }, errorText(r))));
  }
  const ev = r.json.events;
  $('#history-note').textContent = ev.length ? `latest ${ev.length}` : '';
  fill($('#history'), ev.length ? ev.map((e) => h('tr', {},
    h('td', {}, h('span', { class: `badge ${e.status}` }, h('span', { class: `dot dot-${e.status}` }), statusLabel(e))),
    h('td', { class: 'small' }, `${dateTime(e.at)} · ${timeAgo(e.at)}`)))
    : h('tr', {}, h('td', { colspan: 2, class: 'empty' }, 'No stored history.')));
}

// Two clicks: the first arms the button, the second ends the sessions.
let kickArmed = null;
function disarmKick() {
  clearTimeout(kickArmed);
  kickArmed = null;
  const b = $('#kick');
  b.classList.remove('armed');
  b.textContent = 'End all sessions';
}

$('#kick').addEventListener('click', async () => {
  const b = $('#kick');
  if (!kickArmed) {
    b.classList.add('armed');
    b.textContent = 'Click again to confirm';
    kickArmed = setTimeout(disarmKick, 4000);
    return;
  }
  disarmKick();
  const id = selected;
  const r = await api('DELETE', `/v1/users/${encodeURIComponent(id)}/sessions`, undefined, creds());
  if (r.status === 200) toast(`Ended ${r.json.ended} session${r.json.ended === 1 ? '' : 's'} of ${id}`);
  else toast(`Could not end the sessions: ${errorText(r)}`, 'bad');
  loadSessions();
  setTimeout(loadHistory, 300);
  poll();
});

// ---- threads

async function loadThread(t) {
  const r = await api('GET', `/v1/threads/${encodeURIComponent(t)}/members`, undefined, creds());
  if (r.status !== 200) return toast(`Thread ${t}: ${errorText(r)}`, 'bad');
  sessionStorage.setItem('presence-admin-thread', t);
  $('#thread-body').hidden = false;
  const ids = r.json.user_ids.map(String);
  fill($('#members'), ids.length ? ids.map((id) => {
    const p = client?.get(id);
    return h('li', { 'data-user': id },
      h('span', { class: `dot dot-${p?.status ?? 'offline'}` }), id,
      h('button', { type: 'button', title: `Remove ${id}`, 'aria-label': `Remove ${id}`, onclick: () => removeMember(t, id) }, '×'));
  }) : h('li', { class: 'none' }, 'No members yet.'));
}

async function removeMember(t, id) {
  const r = await api('DELETE', `/v1/threads/${encodeURIComponent(t)}/members/${encodeURIComponent(id)}`, undefined, creds());
  if (r.status !== 200) toast(`Could not remove ${id}: ${errorText(r)}`, 'bad');
  loadThread(t);
}

$('#thread-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('#thread-id').value.trim();
  if (t) loadThread(t);
});

$('#member-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const t = $('#thread-id').value.trim(), id = $('#member-id').value.trim();
  if (!t || !id) return;
  const r = await api('POST', `/v1/threads/${encodeURIComponent(t)}/members`, { user_ids: [id] }, creds());
  if (r.status !== 200) return toast(`Could not add ${id}: ${errorText(r)}`, 'bad');
  $('#member-id').value = '';
  loadThread(t);
});

// ---- health of every process

function gatewayUrls() {
  const extra = JSON.parse(localStorage.getItem(GATEWAYS_KEY) ?? '[]');
  return [location.origin, ...extra.filter((u) => u !== location.origin)];
}

async function probe(url) {
  const get = async (path) => {
    try {
      const r = await fetch(url + path, { cache: 'no-store' });
      return r.status;
    } catch {
      return 0;
    }
  };
  const [healthz, readyz] = await Promise.all([get('/healthz'), get('/readyz')]);
  return { url, healthz, readyz };
}

function stateCell(kind, text) {
  const dot = kind === 'ok' ? 'online' : kind === 'bad' ? 'dnd' : 'offline';
  return h('span', { class: `state ${kind}` }, h('span', { class: `dot dot-${dot}` }), text);
}

async function health() {
  const gws = await Promise.all(gatewayUrls().map(probe));
  // the persister answers history reads: a 200 means it is up
  const hist = await api('GET', `/v1/users/${encodeURIComponent(client?.userId ?? CONSOLE_USER)}/history?limit=1`, undefined, creds());
  const ready = gws.filter((g) => g.readyz === 200).length;
  const rows = gws.map((g, i) => h('tr', { 'data-gateway': g.url },
    h('td', {}, 'Gateway ', h('span', { class: 'mono' }, new URL(g.url).host),
      i === 0 ? h('span', { class: 'muted small' }, ' (this one)')
        : h('button', {
          class: 'remove', type: 'button', title: 'Stop checking this gateway', 'aria-label': `Remove ${g.url}`,
          onclick: () => removeGateway(g.url),
        }, '×')),
    h('td', { class: 'muted' }, '/healthz, /readyz'),
    h('td', {}, g.healthz !== 200 ? stateCell('bad', g.healthz ? `HTTP ${g.healthz}` : 'Unreachable')
      : g.readyz === 200 ? stateCell('ok', 'Ready') : stateCell('bad', 'Up, registry link down'))));
  const viaReady = gws.find((g) => g.readyz === 200);
  rows.push(h('tr', {},
    h('td', {}, 'Registry'),
    h('td', { class: 'muted' }, 'the gateways\u2019 /readyz'),
    h('td', {}, viaReady ? stateCell('ok', 'Ready') : stateCell('bad', 'Not reachable from any gateway'))));
  rows.push(h('tr', {},
    h('td', {}, 'Persister'),
    h('td', { class: 'muted' }, 'a history read'),
    h('td', {}, hist.status === 200 ? stateCell('ok', 'Answering')
      : hist.status === 503 ? stateCell('bad', 'Unavailable') : stateCell('unknown', errorText(hist)))));
  fill($('#health'), rows);
  $('#stat-gateways').textContent = `${ready} / ${gws.length}`;
  $('#stat-gateways-sub').textContent = ready === gws.length ? 'all ready' : 'check Processes';
  $('#health-at').textContent = `checked ${clock(Date.now())}`;
}

function removeGateway(url) {
  const extra = JSON.parse(localStorage.getItem(GATEWAYS_KEY) ?? '[]').filter((u) => u !== url);
  localStorage.setItem(GATEWAYS_KEY, JSON.stringify(extra));
  health();
}

$('#gw-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  let url;
  try {
    url = new URL($('#gw-url').value.trim()).origin;
  } catch {
    return toast('That is not a URL (e.g. http://127.0.0.1:8081)', 'bad');
  }
  const extra = JSON.parse(localStorage.getItem(GATEWAYS_KEY) ?? '[]');
  if (!extra.includes(url)) extra.push(url);
  localStorage.setItem(GATEWAYS_KEY, JSON.stringify(extra));
  $('#gw-url').value = '';
  health();
});

// ---- wiring

$('#search').addEventListener('input', () => { page = 0; renderUsers(); });
$('#search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const q = $('#search').value.trim();
  if (!q) return;
  const hit = visibleUsers();
  if (hit.length === 1) return select(hit[0].id);
  // an exact id that is not listed (offline, say): look it up
  user(q);
  select(q);
});
$('#show-offline').addEventListener('change', () => { page = 0; renderUsers(); });
$('#prev').addEventListener('click', () => { page = Math.max(0, page - 1); renderUsers(); });
$('#next').addEventListener('click', () => { page++; renderUsers(); });
$('#clear-feed').addEventListener('click', () => fill($('#feed')));

$('#token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('#token').value.trim();
  if (!t) return;
  token = t;
  sessionStorage.setItem(TOKEN_KEY, t);
  $('#token-error').hidden = true;
  open();
});
$('#forget-token').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});

open();
