// presence-client.js: the JavaScript client of presence (docs/SDK.md).
//
// One ES module without dependencies, for browsers and Node >= 18 (pass
// `WebSocket` from the `ws` package where there is no global one). It
// speaks the v1 WebSocket protocol (docs/PROTOCOL.md) and does what every
// app would otherwise write by hand: reconnects with backoff and jitter,
// spreads reconnects after a gateway stops, refreshes the token before it
// expires, re-sends watches after a reconnect and reports only what really
// changed meanwhile, repeats typing while it lasts, and reports the device
// idle (auto-away) in browsers.
//
// Design: the client keeps a store of every presence it has seen (watch,
// query and list replies, events). After each `welcome` it re-sends the
// watches and re-queries the rest of the store, and every answer passes
// the same comparison as an event, so the app receives a `presence` event
// exactly when what it shows must change, and never a stale value after a
// reconnect. Requests made while disconnected wait for the next session.

const DEFAULTS = {
  backoffBaseMs: 500, // full jitter: a retry waits random(0, min(cap, base * 2^n))
  backoffCapMs: 30000,
  stableMs: 60000, // a session that lasted this long resets the backoff
  spreadMs: 2000, // after 1001/1012: random(0, spread) before reconnecting
  connectTimeoutMs: 15000, // socket open + welcome
  requestTimeoutMs: 15000, // a request (including time spent offline)
  typingRepeatMs: 3000, // the server lets typing expire after 6 s
  deadAfterMs: 10000, // no message for heartbeat_ms + this: reconnect
  idleAfterMs: 5 * 60 * 1000, // auto-away: no input for this long
};

const CHUNK = 1000; // ids per watch/query message (protocol limit)
const STATUSES = ['online', 'away', 'dnd', 'invisible'];
const CLOSE_DROPPED = 4000; // our own code when we give up on a socket

// The delay before reconnect attempt `attempt` (0-based): full jitter,
// random in [0, min(cap, base * 2^attempt)).
export function backoffDelay(attempt, baseMs = DEFAULTS.backoffBaseMs,
  capMs = DEFAULTS.backoffCapMs, random = Math.random) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 40));
  return Math.floor(random() * ceiling);
}

// An error answer from the server (`code` as in PROTOCOL §4), or one of
// the client's own: `timeout`, `closed`, `disconnected`.
export class PresenceError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'PresenceError';
    this.code = code;
  }
}

// The `exp` claim of a JWT, in ms since the epoch, or null.
export function tokenExpiry(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
    const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
    const exp = JSON.parse(new TextDecoder().decode(bytes)).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

// ws://host/v1/ws from a ws(s):// or http(s):// URL; a bare origin gets
// the /v1/ws path.
function wsUrl(u) {
  const url = new URL(u);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/ws';
  return url.toString();
}

function defaultUrl() {
  // A browser page that loaded this module from a gateway talks to that
  // gateway.
  try {
    const here = new URL(import.meta.url);
    if (here.protocol === 'http:' || here.protocol === 'https:')
      return [wsUrl(here.origin)];
  } catch { /* no import.meta.url: fall through */ }
  return [];
}

// What the app can see of a presence object; a difference in any of these
// is an event. last_seen of an online user is the time of the answer, so
// it counts only for users who are offline.
function differs(a, b) {
  if (!a) return true;
  return a.status !== b.status || a.is_online !== b.is_online ||
    a.text !== b.text || a.auto !== b.auto || a.since !== b.since ||
    (!b.is_online && a.last_seen !== b.last_seen) ||
    JSON.stringify(a.meta) !== JSON.stringify(b.meta);
}

function normalize(m) {
  return {
    user_id: m.user_id,
    status: m.status,
    is_online: !!m.is_online,
    text: m.text ?? null,
    last_seen: m.last_seen ?? null,
    since: m.since ?? null,
    meta: m.meta ?? null,
    auto: m.auto === true,
  };
}

function chunks(list) {
  const out = [];
  for (let i = 0; i < list.length; i += CHUNK) out.push(list.slice(i, i + CHUNK));
  return out;
}

function idList(ids) {
  const list = Array.isArray(ids) ? ids : [ids];
  return [...new Set(list.map(String))];
}

export class PresenceClient {
  #o; // options with defaults
  #urls;
  #urlIndex;
  #WS;
  #ws = null;
  #state = 'idle';
  #listeners = new Map();
  #store = new Map(); // user_id -> presence object
  #watched = new Set();
  #lists = new Set(); // list_online threads to re-run ('' = no thread)
  #pending = new Map(); // request id -> {msg, resolve, reject, timer, sent, internal}
  #nextId = 1;
  #attempt = 0;
  #timers = {}; // reconnect, connect, heartbeat, refresh
  #onlineAt = 0;
  #lastRx = 0;
  #lastTx = 0;
  #stopped = true; // not started, or closed for good
  #chosen = null; // {status, text}: sent in every hello
  #choiceSeq = 0; // setStatus calls so far
  #statusInFlight = 0; // set_status requests not answered yet
  #typingOut = new Map(); // thread -> interval (our repeats)
  #typingIn = new Map(); // thread -> Set of user ids typing
  #idle = false;
  #userId = null;
  #sessionId = null;
  #heartbeatMs = 20000;
  #skew = 0; // server clock - our clock
  #token = null; // the token of the current session
  #authError = false;
  #tokenExpired = false;
  #connectWaiters = [];
  #autoAway = null; // detach function

  constructor(options = {}) {
    this.#o = { ...DEFAULTS, ...options };
    const u = options.url ?? defaultUrl();
    this.#urls = (Array.isArray(u) ? u : [u]).map(wsUrl);
    if (this.#urls.length === 0)
      throw new TypeError('PresenceClient: no url (and not loaded from a gateway)');
    this.#urlIndex = Math.floor(this.#random() * this.#urls.length);
    this.#WS = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.#WS !== 'function')
      throw new TypeError('PresenceClient: no WebSocket; pass options.WebSocket (e.g. from "ws")');
    if (options.status !== undefined) this.#chosen = { status: options.status, text: options.text ?? null };
  }

  // ---- public state

  get state() { return this.#state; }
  get userId() { return this.#userId; }
  get sessionId() { return this.#sessionId; }
  get idle() { return this.#idle; }
  // Our own presence as the server shows it to our sessions.
  get me() { return this.#userId ? this.#store.get(this.#userId) : undefined; }
  // The last known presence of a user, or undefined.
  get(userId) { return this.#store.get(String(userId)); }
  // Every presence the client knows.
  users() { return [...this.#store.values()]; }
  // The users typing in a thread right now (without us).
  typers(threadId) { return [...(this.#typingIn.get(String(threadId)) ?? [])]; }

  // ---- events

  // Calls fn(payload) for each event of type: 'presence' (presence, previous),
  // 'typing' ({thread_id, user_id, active}), 'state' ({state, reason, ...}),
  // 'error' (PresenceError not tied to a request). Returns an unsubscribe
  // function.
  on(type, fn) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) { this.#listeners.get(type)?.delete(fn); }

  #emit(type, ...args) {
    for (const fn of [...(this.#listeners.get(type) ?? [])]) {
      try { fn(...args); } catch (e) {
        // a throwing listener must not break the connection
        setTimeout(() => { throw e; });
      }
    }
  }

  // ---- lifecycle

  // Starts connecting (if not already) and resolves once online; rejects
  // with a PresenceError if the client is closed for good first
  // (unauthorized, kicked, close()).
  connect() {
    const p = new Promise((resolve, reject) => {
      if (this.#state === 'online') return resolve();
      this.#connectWaiters.push({ resolve, reject });
    });
    if (this.#stopped) {
      this.#stopped = false;
      this.#authError = false;
      this.#attempt = 0;
      this.#startAutoAway();
      this.#open();
    }
    return p;
  }

  // Ends the session at once (bye: watchers see us offline without grace)
  // and stops reconnecting. Pending requests reject with `closed`.
  close() {
    if (this.#stopped) return;
    const ws = this.#ws;
    if (ws && ws.readyState === 1) {
      try { ws.send(JSON.stringify({ type: 'bye' })); } catch { /* closing anyway */ }
    }
    this.#finish('closed', 1000, 'closed by the app');
  }

  #random() { return (this.#o.random ?? Math.random)(); }

  #setState(state, extra = {}) {
    this.#state = state;
    this.#emit('state', { state, ...extra });
  }

  async #open() {
    clearTimeout(this.#timers.reconnect);
    const url = this.#urls[this.#urlIndex];
    this.#setState('connecting', { url, attempt: this.#attempt });
    let token;
    try {
      token = typeof this.#o.token === 'function' ? await this.#o.token() : this.#o.token;
    } catch (e) {
      if (this.#stopped) return;
      this.#retry({ reason: 'token_unavailable', message: String(e?.message ?? e) });
      return;
    }
    if (this.#stopped) return;
    this.#token = token ?? null;
    this.#authError = false;
    this.#tokenExpired = false;
    let ws;
    try {
      ws = new this.#WS(url, 'presence.v1');
    } catch (e) {
      this.#retry({ reason: 'connection_failed', message: String(e?.message ?? e) });
      return;
    }
    this.#ws = ws;
    this.#timers.connect = setTimeout(() => this.#drop(ws, 'connect_timeout'),
      this.#o.connectTimeoutMs);
    ws.onopen = () => {
      const hello = { type: 'hello', id: 'hello' };
      if (token != null) hello.token = token;
      if (this.#o.userId != null) hello.user_id = String(this.#o.userId);
      if (this.#o.device != null) hello.device = this.#o.device;
      if (this.#o.meta != null) hello.meta = this.#o.meta;
      // A plain `online` is what a hello without status means anyway,
      // and leaving it out cannot undo what another device of the user
      // chose while this one was away; any other choice is sent, so it
      // survives an outage longer than the grace.
      const ch = this.#chosen;
      if (ch && (ch.status !== 'online' || ch.text != null)) {
        hello.status = ch.status;
        if (ch.text != null) hello.text = ch.text;
      }
      this.#send(hello);
    };
    ws.onmessage = (ev) => {
      if (ws !== this.#ws) return;
      let m;
      try { m = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data)); } catch { return; }
      this.#lastRx = Date.now();
      this.#onMessage(m);
    };
    ws.onclose = (ev) => {
      if (ws !== this.#ws) return;
      this.#onClose(ev.code, ev.reason);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  #send(m) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(m));
    } catch {
      return false;
    }
    this.#lastTx = Date.now();
    return true;
  }

  // Gives up on ws (no welcome in time, no answer to pings): it counts as
  // closed now, whatever its closing handshake does later.
  #drop(ws, reason) {
    if (!ws || ws !== this.#ws) return;
    this.#detach(ws);
    try { ws.close(CLOSE_DROPPED, reason); } catch { /* already closing */ }
    this.#onClose(CLOSE_DROPPED, reason);
  }

  #detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    // not null: Node's `ws` throws an 'error' event nobody listens to
    ws.onerror = () => {};
    if (this.#ws === ws) this.#ws = null;
  }

  #clearSessionTimers() {
    clearTimeout(this.#timers.connect);
    clearInterval(this.#timers.heartbeat);
    clearTimeout(this.#timers.refresh);
  }

  #onClose(code, reason) {
    const ws = this.#ws;
    if (ws) this.#detach(ws);
    this.#clearSessionTimers();
    const wasOnline = this.#state === 'online';
    const onlineFor = wasOnline ? Date.now() - this.#onlineAt : 0;
    this.#sessionId = null;
    this.#clearTypingIn();
    for (const [id, p] of this.#pending) {
      if (p.internal) { this.#pending.delete(id); clearTimeout(p.timer); p.reject(new PresenceError('disconnected')); } else p.sent = false;
    }
    if (this.#stopped) return;
    if (code === 4001) return this.#finish('kicked', code, reason);
    if (code === 1008 && this.#authError) return this.#finish('unauthorized', code, reason);
    if (onlineFor >= this.#o.stableMs) this.#attempt = 0;
    if (code === 1001 || code === 1012) {
      // the gateway stops or restarts: all its clients leave at once, so
      // each waits a random part of the spread (and tries another URL)
      this.#rotate();
      return this.#retry({ reason: 'server_restart', code, message: reason },
        Math.floor(this.#random() * this.#o.spreadMs));
    }
    if (code === 1008 && this.#tokenExpired) {
      // a fresh token now: within the grace, nobody sees us go
      return this.#retry({ reason: 'token_expired', code, message: reason }, 0);
    }
    this.#rotate();
    this.#retry({
      reason: code === CLOSE_DROPPED ? reason : 'connection_lost', code,
      message: reason,
    });
  }

  // Another URL of the list, at random (the one we used is likely down).
  #rotate() {
    const n = this.#urls.length;
    if (n > 1) this.#urlIndex = (this.#urlIndex + 1 + Math.floor(this.#random() * (n - 1))) % n;
  }

  #retry(info, delay) {
    if (delay === undefined) {
      delay = backoffDelay(this.#attempt, this.#o.backoffBaseMs, this.#o.backoffCapMs,
        () => this.#random());
      this.#attempt++;
    }
    this.#setState('offline', { ...info, retryInMs: delay, attempt: this.#attempt });
    clearTimeout(this.#timers.reconnect);
    this.#timers.reconnect = setTimeout(() => { if (!this.#stopped) this.#open(); }, delay);
  }

  #finish(reason, code, message) {
    this.#stopped = true;
    clearTimeout(this.#timers.reconnect);
    this.#clearSessionTimers();
    for (const t of this.#typingOut.values()) clearInterval(t);
    this.#typingOut.clear();
    this.#stopAutoAway();
    const ws = this.#ws;
    if (ws) {
      this.#detach(ws);
      try { ws.close(1000); } catch { /* gone */ }
    }
    this.#clearTypingIn();
    const err = new PresenceError(reason, message || reason);
    for (const p of this.#pending.values()) { clearTimeout(p.timer); p.reject(err); }
    this.#pending.clear();
    for (const w of this.#connectWaiters.splice(0)) w.reject(err);
    this.#sessionId = null;
    this.#setState('closed', { reason, code, message });
  }

  // ---- messages

  #onMessage(m) {
    switch (m.type) {
    case 'welcome': return this.#onWelcome(m);
    case 'presence': return this.#apply(m);
    case 'typing': return this.#onTyping(m);
    case 'presence_list':
    case 'ok':
    case 'pong':
    case 'error': return this.#onReply(m);
    default: return undefined;
    }
  }

  #onWelcome(m) {
    clearTimeout(this.#timers.connect);
    this.#userId = m.user_id;
    this.#sessionId = m.session_id;
    this.#heartbeatMs = m.heartbeat_ms || 20000;
    if (typeof m.server_time === 'number') this.#skew = m.server_time - Date.now();
    this.#onlineAt = Date.now();
    this.#startHeartbeat();
    this.#scheduleRefresh();
    this.#setState('online', { sessionId: m.session_id, userId: m.user_id, url: this.#urls[this.#urlIndex] });
    for (const w of this.#connectWaiters.splice(0)) w.resolve();
    this.#resync();
    for (const p of this.#pending.values()) {
      if (!p.sent) p.sent = this.#send(p.msg);
    }
  }

  // After every welcome: what the app showed before is asked again.
  #resync() {
    const quiet = () => {};
    const watched = [...this.#watched];
    for (const ids of chunks(watched))
      this.#request({ type: 'watch', user_ids: ids }, true).catch(quiet);
    const rest = [...this.#store.keys()].filter((id) => !this.#watched.has(id));
    if (!rest.includes(this.#userId)) rest.push(this.#userId);
    for (const ids of chunks(rest))
      this.#request({ type: 'query', user_ids: ids }, true).catch(quiet);
    for (const t of this.#lists)
      this.#request(t === '' ? { type: 'list_online' } : { type: 'list_online', thread_id: t }, true).catch(quiet);
    // a new session starts active
    if (this.#idle) this.#request({ type: 'activity', idle: true }, true).catch(quiet);
    for (const thread of this.#typingOut.keys())
      this.#send({ type: 'typing', thread_id: thread, active: true });
  }

  #onReply(m) {
    const p0 = m.id !== undefined ? this.#pending.get(m.id) : undefined;
    if (m.type === 'presence_list' && Array.isArray(m.users)) {
      // an answer to a request older than our last setStatus must not
      // undo that choice locally
      const fresh = !p0 || p0.choiceSeq === this.#choiceSeq;
      for (const u of m.users) this.#apply(u, fresh);
    }
    if (m.type === 'error') {
      if (m.code === 'unauthorized' && (m.id === 'hello' || m.id === undefined)) this.#authError = true;
      if (m.code === 'token_expired') this.#tokenExpired = true;
    }
    const p = m.id !== undefined ? this.#pending.get(m.id) : undefined;
    if (!p) {
      // auth and expiry end the session: they show as its state instead
      if (m.type === 'error' && m.code !== 'unauthorized' && m.code !== 'token_expired')
        this.#emit('error', new PresenceError(m.code, m.message));
      return;
    }
    this.#pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.type === 'error') p.reject(new PresenceError(m.code, m.message));
    else if (m.type === 'presence_list') p.resolve(m.users.map(normalize));
    else if (m.type === 'pong') p.resolve(m.server_time);
    else p.resolve();
  }

  // adopt: whether our own presence in raw may tell our chosen status
  // (not while our own set_status is on its way, nor from an answer to a
  // request made before it).
  #apply(raw, adopt = true) {
    if (!raw || typeof raw.user_id !== 'string') return;
    const next = normalize(raw);
    const prev = this.#store.get(next.user_id);
    if (adopt && this.#statusInFlight === 0 && next.user_id === this.#userId && !next.auto &&
        STATUSES.includes(next.status))
      this.#chosen = { status: next.status, text: next.text };
    if (!differs(prev, next)) {
      // keep the freshest last_seen without telling anyone
      if (prev && next.is_online) prev.last_seen = next.last_seen;
      return;
    }
    this.#store.set(next.user_id, next);
    this.#emit('presence', next, prev);
  }

  #onTyping(m) {
    const t = String(m.thread_id), u = String(m.user_id);
    let set = this.#typingIn.get(t);
    if (m.active) {
      if (!set) this.#typingIn.set(t, (set = new Set()));
      set.add(u);
    } else if (set) {
      set.delete(u);
      if (set.size === 0) this.#typingIn.delete(t);
    }
    this.#emit('typing', { thread_id: t, user_id: u, active: !!m.active });
  }

  #clearTypingIn() {
    const ended = [];
    for (const [t, set] of this.#typingIn) for (const u of set) ended.push({ thread_id: t, user_id: u, active: false });
    this.#typingIn.clear();
    for (const e of ended) this.#emit('typing', e);
  }

  // ---- heartbeat and token refresh

  #startHeartbeat() {
    clearInterval(this.#timers.heartbeat);
    const every = Math.max(1000, Math.floor(this.#heartbeatMs / 2));
    this.#timers.heartbeat = setInterval(() => {
      const now = Date.now();
      if (now - this.#lastRx > this.#heartbeatMs + this.#o.deadAfterMs) {
        this.#drop(this.#ws, 'no_response');
        return;
      }
      // browsers cannot see the gateway's WebSocket pings: ask for a pong
      if (now - this.#lastTx >= this.#heartbeatMs - every / 2) this.#send({ type: 'ping' });
    }, every);
  }

  #scheduleRefresh() {
    clearTimeout(this.#timers.refresh);
    if (typeof this.#o.token !== 'function' || this.#token == null) return;
    const exp = tokenExpiry(this.#token);
    if (exp === null) return;
    const expLocal = exp - this.#skew;
    const left = expLocal - Date.now();
    const lead = Math.min(60000, Math.max(1000, left * 0.25));
    const delay = Math.max(1000, left - lead);
    this.#timers.refresh = setTimeout(() => this.#refresh(), delay);
  }

  async #refresh() {
    const sid = this.#sessionId;
    let token;
    try {
      token = await this.#o.token();
    } catch (e) {
      this.#emit('error', new PresenceError('token_unavailable', String(e?.message ?? e)));
    }
    if (sid === null || sid !== this.#sessionId) return; // a new session has its own
    if (token == null) {
      this.#timers.refresh = setTimeout(() => this.#refresh(), 5000);
      return;
    }
    try {
      await this.#request({ type: 'refresh', token }, true);
      if (sid === this.#sessionId) {
        this.#token = token;
        this.#scheduleRefresh();
      }
    } catch (e) {
      if (sid !== this.#sessionId || e.code === 'disconnected') return;
      this.#emit('error', e);
      // keep the old end; try again, the server closes at exp at worst
      this.#timers.refresh = setTimeout(() => this.#refresh(), 5000);
    }
  }

  // ---- requests

  #request(msg, internal = false) {
    return new Promise((resolve, reject) => {
      const id = `r${this.#nextId++}`;
      const full = { ...msg, id };
      const p = { msg: full, resolve, reject, sent: false, internal, choiceSeq: this.#choiceSeq };
      p.timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new PresenceError('timeout', `no answer to ${msg.type} within ${this.#o.requestTimeoutMs} ms`));
      }, this.#o.requestTimeoutMs);
      this.#pending.set(id, p);
      if (this.#state === 'closed' && !internal) {
        this.#pending.delete(id);
        clearTimeout(p.timer);
        reject(new PresenceError('closed', 'the client is closed; call connect()'));
        return;
      }
      if (this.#state === 'online') p.sent = this.#send(full);
    });
  }

  async #chunked(type, ids) {
    const out = [];
    for (const part of chunks(ids)) out.push(...await this.#request({ type, user_ids: part }));
    return out;
  }

  // Chooses our status (for every device of the user: PROTOCOL §5) and
  // its text; also sent in the hello of every later reconnect.
  setStatus(status, text) {
    this.#chosen = { status, text: text ?? null };
    this.#choiceSeq++;
    this.#statusInFlight++;
    const m = { type: 'set_status', status };
    if (text != null) m.text = text;
    return this.#request(m).finally(() => { this.#statusInFlight--; });
  }

  // Follows these users: their presence now (also as `presence` events
  // for what is new), then an event for every change, across reconnects.
  watch(ids) {
    const list = idList(ids);
    for (const id of list) this.#watched.add(id);
    return this.#chunked('watch', list);
  }

  unwatch(ids) {
    const list = idList(ids);
    for (const id of list) {
      this.#watched.delete(id);
      this.#store.delete(id);
    }
    return Promise.all(chunks(list).map((part) => this.#request({ type: 'unwatch', user_ids: part })))
      .then(() => undefined);
  }

  // The presence of these users now; they stay in the store and are
  // asked again after every reconnect.
  query(ids) { return this.#chunked('query', idList(ids)); }

  // The online members of a thread (or, without one, the online users we
  // share a thread with or watch); asked again after every reconnect.
  listOnline(threadId) {
    const t = threadId == null ? '' : String(threadId);
    this.#lists.add(t);
    return this.#request(t === '' ? { type: 'list_online' } : { type: 'list_online', thread_id: t });
  }

  // Typing in a thread: active = true sends it and repeats it while it
  // lasts (the server expires it 6 s after the last repeat); false stops.
  typing(threadId, active) {
    const t = String(threadId);
    const running = this.#typingOut.get(t);
    if (active) {
      if (running) return;
      this.#send({ type: 'typing', thread_id: t, active: true });
      this.#typingOut.set(t, setInterval(
        () => this.#send({ type: 'typing', thread_id: t, active: true }), this.#o.typingRepeatMs));
    } else if (running) {
      clearInterval(running);
      this.#typingOut.delete(t);
      this.#send({ type: 'typing', thread_id: t, active: false });
    }
  }

  // Reports this device idle or active (auto-away, PROTOCOL §5). Browsers
  // do it by themselves unless options.autoAway is false.
  setIdle(idle) {
    idle = !!idle;
    if (idle === this.#idle) return;
    this.#idle = idle;
    if (this.#state === 'online') this.#request({ type: 'activity', idle }, true).catch(() => {});
    this.#emit('activity', { idle });
  }

  // The server's clock, as far as the last welcome tells (ms since epoch).
  serverNow() { return Date.now() + this.#skew; }

  // ---- auto-away (browsers)

  #startAutoAway() {
    const opt = this.#o.autoAway;
    if (opt === false || this.#autoAway) return;
    if (typeof window === 'undefined' || typeof document === 'undefined') return;
    const idleAfter = (opt && opt.idleMs) || this.#o.idleAfterMs;
    const whenHidden = !(opt && opt.whenHidden === false);
    let last = Date.now();
    let timer = null;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(check, Math.max(0, last + idleAfter - Date.now()));
    };
    const check = () => {
      if (Date.now() - last >= idleAfter) {
        this.setIdle(true);
        timer = null; // input re-arms
      } else arm();
    };
    const hidden = () => whenHidden && document.visibilityState === 'hidden';
    const input = () => {
      last = Date.now();
      if (this.#idle && !hidden()) this.setIdle(false);
      if (!timer) arm();
    };
    const visibility = () => {
      if (hidden()) this.setIdle(true);
      else input();
    };
    const inputs = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll', 'focus'];
    for (const e of inputs) window.addEventListener(e, input, { capture: true, passive: true });
    document.addEventListener('visibilitychange', visibility);
    arm();
    if (hidden()) this.setIdle(true);
    this.#autoAway = () => {
      clearTimeout(timer);
      for (const e of inputs) window.removeEventListener(e, input, { capture: true });
      document.removeEventListener('visibilitychange', visibility);
    };
  }

  #stopAutoAway() {
    if (this.#autoAway) this.#autoAway();
    this.#autoAway = null;
  }
}
