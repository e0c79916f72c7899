// The live demo: sign in as a name (auth none) or with a token (auth
// jwt), join a thread, and see its members' presence live through the
// SDK the gateway serves at /v1/client.js.
import { PresenceClient } from '/v1/client.js';
import {
  $, h, fill, api, avatar, timeAgo, clock, statusLabel, displayName, tokenClaims, toast,
} from '/ui/ui.js';

const STORE_KEY = 'presence-demo';
const TYPING_IDLE_MS = 3000;
const MEMBERS_EVERY_MS = 10000;

let client = null;
let me = null; // our user id
let thread = null;
let auth = {}; // for the HTTP API: {token} or {user}
let mayEdit = false; // may read and edit the thread's members (HTTP API)
const roster = new Map(); // user id -> presence
const members = new Set();
let typingTimer = null;
let membersTimer = null;
let clockTimer = null;
let eventCount = 0;

// ---- sign in

function signinError(text) {
  const el = $('#signin-error');
  el.hidden = !text;
  el.textContent = text ?? '';
}

async function start({ name, thread: t, token }) {
  thread = t;
  // one id per person, however the name is capitalized
  const claims = token ? tokenClaims(token) : {};
  const userId = token ? claims.sub : name.toLowerCase().replace(/\s+/g, '-');
  if (!userId) return signinError('That token has no subject (sub).');
  me = userId;
  auth = token ? { token } : { user: userId };
  // under auth none every HTTP caller is an admin; under jwt only an
  // admin token may edit threads, so a user must already be a member
  mayEdit = !token || claims.admin === true;
  sessionStorage.setItem(STORE_KEY, JSON.stringify({ name, thread: t, token }));

  // Join before connecting, so the others get our `online` as a thread
  // member.
  if (mayEdit) {
    const joined = await api('POST', `/v1/threads/${encodeURIComponent(t)}/members`, { user_ids: [userId] }, auth);
    if (joined.status === 401) return signinError('The gateway refused the credentials.');
  }

  roster.clear();
  members.clear();
  eventCount = 0;
  fill($('#events'));
  $('#app-banner').hidden = true;
  client = new PresenceClient({
    ...(token ? { token } : { userId }),
    device: 'web',
    meta: { user_name: name || userId },
  });
  client.on('state', onState);
  client.on('presence', onPresence);
  client.on('typing', renderTyping);
  try {
    await client.connect();
  } catch (e) {
    showSignin();
    return signinError(e.code === 'unauthorized' ? 'The gateway refused the token.' : `Could not connect: ${e.message}`);
  }
  showApp();
  await loadMembers();
  clearInterval(membersTimer);
  membersTimer = setInterval(loadMembers, MEMBERS_EVERY_MS);
  clearInterval(clockTimer);
  clockTimer = setInterval(renderRoster, 15000); // "last seen" moves on
}

// The thread's members: from the HTTP API where we may read it (auth
// none, or an admin token), else the online ones the WebSocket lists.
async function loadMembers() {
  if (!client || client.state === 'closed') return;
  let ids = null;
  const r = mayEdit ? await api('GET', `/v1/threads/${encodeURIComponent(thread)}/members`, undefined, auth) : null;
  if (r?.status === 200) ids = r.json.user_ids.map(String);
  else {
    try {
      ids = (await client.listOnline(thread)).map((p) => p.user_id);
    } catch (e) {
      showBanner(e.code === 'forbidden'
        ? `You are not a member of #${thread}: an admin adds members (admin console, Threads).`
        : `Could not list #${thread}: ${e.message}`, null);
      ids = [];
    }
  }
  const fresh = ids.filter((id) => !members.has(id));
  for (const id of ids) members.add(id);
  if (!members.has(me)) members.add(me);
  const watch = fresh.filter((id) => id !== me);
  if (watch.length) {
    try {
      for (const p of await client.watch(watch)) roster.set(p.user_id, p);
    } catch { /* reconnecting: the SDK re-sends the watch */ }
  }
  if (client.me) roster.set(me, client.me);
  renderRoster();
}

// ---- events from the SDK

function onState(s) {
  const dot = $('#conn-dot'), text = $('#conn-text'), pill = $('#conn');
  pill.className = 'pill';
  if (s.state === 'online') {
    pill.classList.add('ok');
    dot.className = 'dot dot-online';
    text.textContent = 'Connected';
  } else if (s.state === 'connecting') {
    pill.classList.add('warn');
    dot.className = 'dot dot-connecting';
    text.textContent = 'Connecting…';
  } else if (s.state === 'offline') {
    pill.classList.add('warn');
    dot.className = 'dot dot-connecting';
    text.textContent = `Reconnecting in ${Math.max(1, Math.round(s.retryInMs / 1000))} s`;
  } else if (s.state === 'closed') {
    pill.classList.add('bad');
    dot.className = 'dot dot-dnd';
    text.textContent = 'Disconnected';
    if (s.reason === 'kicked') showBanner('An administrator ended your session.', 'Sign in again');
    else if (s.reason === 'unauthorized') showBanner('The gateway no longer accepts your token.', 'Sign in again');
  }
}

function onPresence(p, prev) {
  if (p.user_id !== me && !members.has(p.user_id)) members.add(p.user_id); // a new thread mate
  roster.set(p.user_id, p);
  renderRoster(p.user_id);
  if (p.user_id === me) renderMe();
  if (prev) logEvent(p, prev);
}

function logEvent(p, prev) {
  eventCount++;
  const ul = $('#events');
  const st = (x) => h('span', { class: 'st' }, h('span', { class: `dot dot-${x.status}` }), statusLabel(x));
  const li = h('li', {},
    h('time', {}, clock(Date.now(), true)),
    h('span', {}, h('span', { class: 'who' }, displayName(p)), ' ', st(prev), h('span', { class: 'arrow' }, '→'), st(p),
      p.text && p.text !== prev.text ? h('span', { class: 'muted' }, ` “${p.text}”`) : null));
  ul.prepend(li);
  while (ul.children.length > 40) ul.lastElementChild.remove();
  $('#event-count').textContent = `${eventCount} since you joined`;
}

// ---- rendering

const ORDER = { online: 0, dnd: 1, away: 2, invisible: 3, offline: 4 };

function renderRoster(changed) {
  const ul = $('#roster');
  const people = [...members].map((id) => roster.get(id) ?? { user_id: id, status: 'offline', is_online: false, last_seen: null });
  // by status; the offline by how recently they left; else by name
  people.sort((a, b) => (ORDER[a.status] - ORDER[b.status]) ||
    (a.status === 'offline' ? (b.last_seen ?? 0) - (a.last_seen ?? 0) : 0) ||
    displayName(a).localeCompare(displayName(b)));
  const now = client ? client.serverNow() : Date.now();
  fill(ul, people.map((p) => {
    const name = displayName(p);
    const offline = !p.is_online && p.status !== 'invisible';
    let seen;
    if (p.status === 'invisible') seen = 'Hidden from others';
    else if (offline) seen = p.last_seen ? `Last seen ${timeAgo(p.last_seen, now)}` : 'Never seen';
    else seen = statusLabel(p);
    const li = h('li', {
      class: `${offline ? 'is-offline' : ''} ${p.user_id === changed ? 'changed' : ''}`,
      'data-user': p.user_id, 'data-status': p.status,
    },
    avatar(p.user_id, name, p.status),
    h('div', { class: 'who' },
      h('div', { class: 'name' }, name, p.user_id === me ? h('span', { class: 'you' }, 'you') : null),
      p.text ? h('div', { class: 'text' }, p.text) : null),
    h('div', { class: 'seen' }, seen));
    return li;
  }));
  const online = people.filter((p) => p.is_online).length;
  $('#online-count').textContent = `${online} of ${people.length} online`;
}

function renderTyping() {
  const names = client.typers(thread).map((id) => displayName(roster.get(id), id));
  const el = $('#typing');
  if (names.length === 0) return fill(el);
  const who = names.length === 1 ? `${names[0]} is` : names.length === 2 ? `${names[0]} and ${names[1]} are` : `${names.length} people are`;
  fill(el, h('span', { class: 'dots' }, h('i'), h('i'), h('i')), `${who} typing…`);
}

function renderMe() {
  const p = client.me;
  const name = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? '{}').name || me;
  fill($('#me-avatar'), avatar(me, name, p?.status ?? 'online', 'sm'));
  $('#me-name').textContent = name;
  const chosen = p?.auto ? 'online' : (p?.status ?? 'online');
  for (const b of document.querySelectorAll('#status-picker button'))
    b.setAttribute('aria-pressed', String(b.dataset.status === chosen));
  const input = $('#status-text');
  if (document.activeElement !== input) input.value = p?.text ?? '';
}

function showApp() {
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#me-box').hidden = false;
  $('#thread-name').textContent = thread;
  document.title = `#${thread} · presence demo`;
  renderMe();
  renderRoster();
}

function showSignin() {
  $('#signin').hidden = false;
  $('#app').hidden = true;
  $('#me-box').hidden = true;
}

function showBanner(text, button) {
  $('#app-banner-text').textContent = text;
  $('#app-banner-btn').hidden = !button;
  if (button) $('#app-banner-btn').textContent = button;
  $('#app-banner').hidden = false;
}

function stop() {
  clearInterval(membersTimer);
  clearInterval(clockTimer);
  clearTimeout(typingTimer);
  if (client) client.close();
  client = null;
}

// ---- wiring

$('#signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  signinError(null);
  const name = $('#name').value.trim();
  const token = $('#token').value.trim();
  const t = $('#thread').value.trim() || 'lobby';
  if (!name && !token) return signinError('Choose a name (or paste a token).');
  start({ name: name || null, thread: t, token: token || null });
});

$('#signout').addEventListener('click', () => {
  stop();
  sessionStorage.removeItem(STORE_KEY);
  showSignin();
  onState({ state: 'idle' });
  $('#conn').className = 'pill';
  $('#conn-dot').className = 'dot';
  $('#conn-text').textContent = 'Not connected';
});

$('#app-banner-btn').addEventListener('click', () => {
  stop();
  showSignin();
});

for (const b of document.querySelectorAll('#status-picker button')) {
  b.addEventListener('click', () => setStatus(b.dataset.status));
}
$('#status-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const pressed = document.querySelector('#status-picker button[aria-pressed=true]');
  setStatus(pressed?.dataset.status ?? 'online');
});

async function setStatus(status) {
  if (!client) return;
  const text = $('#status-text').value.trim();
  try {
    await client.setStatus(status, text || undefined);
    // our own change comes back as a reply, not an event: ask for it
    await client.query([me]);
    renderMe();
  } catch (e) {
    toast(`Could not set the status: ${e.message}`, 'bad');
  }
}

$('#composer').addEventListener('input', () => {
  if (!client) return;
  const box = $('#composer');
  clearTimeout(typingTimer);
  if (box.value.trim() === '') {
    client.typing(thread, false);
    return;
  }
  client.typing(thread, true);
  typingTimer = setTimeout(() => client?.typing(thread, false), TYPING_IDLE_MS);
});
$('#composer').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey) {
    ev.preventDefault();
    $('#composer').value = '';
    clearTimeout(typingTimer);
    client?.typing(thread, false);
  }
});

// Sign-in data: ?name=&thread= (links to share), else this tab's last one.
const q = new URLSearchParams(location.search);
if (q.get('thread')) $('#thread').value = q.get('thread');
if (q.get('name')) $('#name').value = q.get('name');
const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? 'null');
if (q.get('name') && q.get('join') !== null) start({ name: q.get('name'), thread: q.get('thread') || 'lobby', token: null });
else if (saved && (saved.name || saved.token)) start(saved);
