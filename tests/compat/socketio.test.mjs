// The Socket.IO v4 drop-in (seed 001) through the real socket.io-client
// 4.8, and raw Engine.IO requests for what the library hides. The system
// runs with auth none, allowed_origins http://allowed.example and a
// 1.5 s pingInterval/pingTimeout (CMakeLists.txt); the default audience
// (all) lets every Socket.IO client hear every user.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { gateways, graceMs, uid, intId, waitFor, expectNone, api, sleep } from './lib.mjs';
import {
  sioClient, waitChange, online, eio, eioOpen, eioUrl, eioWs, v1, chromiumPath, browserPage,
  closeAll,
} from './sio.mjs';

after(closeAll);

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const other = gateways.length > 1 ? 1 : 0;

// Whether u's last end was clean (offline at once, not after the grace):
// the registry's own clock says so, whatever the load on this machine:
// since (the offline) minus last_seen (the end of the last session) is
// about 0 for a clean end and at least the grace otherwise.
async function endedClean(u) {
  const r = await api('GET', `/v1/users/${encodeURIComponent(u)}/presence`, undefined, { user: u });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.is_online, false, JSON.stringify(r.json));
  return r.json.since - r.json.last_seen < graceMs / 2;
}

test('WebSocket-only clients: userOnline reaches another client as userStatusChanged', async () => {
  const a = await sioClient(0, { transports: ['websocket'] });
  const b = await sioClient(other, { transports: ['websocket'] });
  assert.equal(a.socket.io.engine.transport.name, 'websocket');
  const user = uid('ws');
  await online(a, user, 'agent', 'Ann');
  const m = await waitChange(b, user, 'online');
  assert.deepEqual(Object.keys(m).sort(), ['lastSeen', 'status', 'userId']);
  assert.equal(m.userId, user);
  assert.match(m.lastSeen, ISO);
  a.close();
  b.close();
});

test('default transports: polling first, then the upgrade; events flow on both', async () => {
  const a = await sioClient(0);
  const engine = a.socket.io.engine;
  const poller = await sioClient(other, { transports: ['polling'] });
  const u1 = uid('p1');
  await online(a, u1); // on whichever transport a has now
  await waitChange(poller, u1, 'online');
  if (engine.transport.name !== 'websocket')
    await new Promise((res) => engine.once('upgrade', res));
  assert.equal(engine.transport.name, 'websocket');
  assert.equal(poller.socket.io.engine.transport.name, 'polling');
  const c = await sioClient(other, { transports: ['websocket'] });
  const u2 = uid('p2');
  await online(c, u2);
  await waitChange(a, u2, 'online'); // over the WebSocket now
  await waitChange(poller, u2, 'online'); // over polling
  // the upgraded client still talks: its ack comes back
  assert.deepEqual(await a.ack('userHeartbeat', { userId: u1 }), { ok: true });
  for (const x of [a, poller, c]) x.close();
});

test('Socket.IO and v1 clients see each other across gateways', async () => {
  const s = uid('s'), v = uid('v'), thread = uid('t');
  assert.equal((await api('PUT', `/v1/threads/${thread}/members`, { user_ids: [s, v] })).status, 200);
  const obs = await sioClient(0, { transports: ['websocket'] });
  const c = await v1(v, other);
  // v1 → Socket.IO: the v1 user's hello
  await waitChange(obs, v, 'online');
  // Socket.IO → v1: userOnline, with userType/userName as the meta
  const sc = await sioClient(0);
  await online(sc, s, 'agent', 'Sam');
  const p = await waitFor(c.seen, (m) => m.type === 'presence' && m.user_id === s && m.status === 'online',
    { what: `${s} online at v1` });
  assert.deepEqual(p.meta, { userType: 'agent', userName: 'Sam' });
  // a v1 status that is still "online" to Socket.IO tells it nothing...
  const from = obs.changes.length;
  c.send({ type: 'set_status', status: 'dnd', id: 'st' });
  await waitFor(c.seen, (m) => m.type === 'ok' && m.id === 'st', { what: 'ok' });
  await expectNone(obs.changes, (m) => m.userId === v, { from, ms: 600, what: 'event for dnd' });
  // ... and bye is offline at once
  c.send({ type: 'bye' });
  await waitChange(obs, v, 'offline', { from });
  assert.ok(await endedClean(v), 'bye is not subject to grace');
  for (const x of [obs, sc]) x.close();
  c.ws.close();
});

test('a change made while no Socket.IO client was connected does not hide the next one', async () => {
  // Regression: the gateway used to remember, per process, what its
  // Socket.IO clients were last told of each user, and dropped an event
  // that told nothing new; a user who went offline while no Socket.IO
  // client was connected then came back online unseen.
  // The watchers are users (userOnline), not observers: with no observer
  // left, the gateway holds no session that hears every user.
  const v = uid('gap');
  const obs1 = await sioClient(0, { transports: ['websocket'] });
  await online(obs1, uid('w1'));
  const c1 = await v1(v, other);
  await waitChange(obs1, v, 'online');
  obs1.close();
  // until gateway 0 holds no session at all (the other tests closed
  // theirs; the observer session ends from its tick), so that v's offline
  // does not reach it
  assert.notEqual(other, 0, 'this suite runs two gateways');
  for (let i = 0; ; i++) {
    const r = await fetch(gateways[0] + '/metrics');
    if (/^presence_gateway_sessions 0$/m.test(await r.text())) break;
    assert.ok(i < 200, 'a session stays open on gateway 0');
    await sleep(50);
  }
  c1.send({ type: 'bye' });
  c1.ws.close();
  const obs2 = await sioClient(0, { transports: ['websocket'] });
  await online(obs2, uid('w2'));
  const c2 = await v1(v, other);
  await waitChange(obs2, v, 'online');
  // still one event per change it can see: dnd is no change to it
  const from = obs2.changes.length;
  c2.send({ type: 'set_status', status: 'dnd', id: 'st' });
  await waitFor(c2.seen, (m) => m.type === 'ok' && m.id === 'st', { what: 'ok' });
  await expectNone(obs2.changes, (m) => m.userId === v, { from, ms: 600, what: 'event for dnd' });
  obs2.close();
  c2.ws.close();
});

test('getOnlineUsers answers the caller only: onlineUsersList with meta; integer ids are numbers', async () => {
  const n = intId(), zs = `0${intId()}`;
  const a = await sioClient(0, { transports: ['websocket'] });
  const b = await sioClient(other);
  const bystander = await sioClient(0);
  await online(a, n, 'customer', 'Int');
  await online(b, zs, 'agent', 'Zero');
  const m = await waitChange(bystander, n, 'online');
  assert.equal(m.userId, n, 'an integer id comes out as a JSON number');
  assert.equal((await waitChange(bystander, zs, 'online')).userId, zs, 'a leading zero keeps it a string');
  b.emit('getOnlineUsers');
  const ev = await waitFor(b.seen, (e) => e.name === 'onlineUsersList', { what: 'onlineUsersList' });
  const list = ev.args[0];
  assert.ok(Array.isArray(list));
  const mine = list.find((u) => u.userId === n);
  assert.ok(mine, `${n} in ${JSON.stringify(list).slice(0, 500)}`);
  assert.deepEqual({ ...mine, lastSeen: undefined }, {
    userId: n, status: 'online', lastSeen: undefined, userType: 'customer', userName: 'Int',
  });
  assert.match(mine.lastSeen, ISO);
  assert.ok(list.some((u) => u.userId === zs && u.userName === 'Zero'));
  // the same list as the ack's argument
  const acked = await a.ack('getOnlineUsers');
  assert.ok(acked.some((u) => u.userId === zs));
  await expectNone(bystander.seen, (e) => e.name === 'onlineUsersList', { ms: 300, what: 'list to a bystander' });
  for (const x of [a, b, bystander]) x.close();
});

test('userOffline: offline at once; a disconnect: offline after the grace, none if back within it', async () => {
  const obs = await sioClient(0, { transports: ['websocket'] });
  const a = await sioClient(other);
  const u = uid('off');
  await online(a, u);
  await waitChange(obs, u, 'online');
  assert.deepEqual(await a.ack('userOffline', { userId: u }), { ok: true });
  await waitChange(obs, u, 'offline');
  assert.ok(await endedClean(u), 'userOffline is not subject to grace');

  const w = uid('drop');
  const b = await sioClient(other, { transports: ['websocket'] });
  await online(b, w);
  await waitChange(obs, w, 'online');
  let from = obs.changes.length;
  const t0 = Date.now();
  b.close();
  await waitChange(obs, w, 'offline', { from, ms: graceMs + 5000 });
  assert.ok(Date.now() - t0 >= graceMs - 200, `offline after ${Date.now() - t0} ms, grace ${graceMs}`);

  // back within the grace: no flicker
  const x = uid('back');
  const c1 = await sioClient(0);
  await online(c1, x);
  await waitChange(obs, x, 'online');
  from = obs.changes.length;
  c1.close();
  const c2 = await sioClient(other);
  await online(c2, x);
  await expectNone(obs.changes, (m) => m.userId === x, { from, ms: graceMs + 500, what: 'flicker' });
  for (const y of [obs, a, c2]) y.close();
});

test('acknowledgements; userHeartbeat and a repeated userOnline produce no event', async () => {
  const obs = await sioClient(other);
  const a = await sioClient(0, { transports: ['websocket'] });
  const u = uid('hb');
  assert.deepEqual(await a.ack('userOnline', { userId: u, userType: 't', userName: 'H' }), { ok: true });
  await waitChange(obs, u, 'online');
  const from = obs.changes.length;
  assert.deepEqual(await a.ack('userHeartbeat', { userId: u }), { ok: true });
  a.emit('userHeartbeat', { userId: u });
  assert.deepEqual(await a.ack('userOnline', { userId: u, userType: 't', userName: 'H' }), { ok: true });
  const bad = await a.ack('noSuchEvent', 1);
  assert.equal(bad.ok, false);
  assert.equal(bad.error, 'bad_request');
  const other2 = await a.ack('userHeartbeat', { userId: uid('else') });
  assert.equal(other2.ok, false, 'a heartbeat for another user is refused');
  await expectNone(obs.changes, (m) => m.userId === u, { from, ms: 500, what: 'event for a heartbeat' });
  a.close();
  obs.close();
});

test('a namespace other than "/" gets connect_error', async () => {
  const { io } = await import('socket.io-client');
  const s = io(`${gateways[0]}/admin`, { reconnection: false, forceNew: true, transports: ['websocket'] });
  const err = await new Promise((res, rej) => {
    s.once('connect_error', res);
    s.once('connect', () => rej(new Error('connected to /admin')));
  });
  assert.match(err.message, /Invalid namespace/);
  s.close();
});

test('Engine.IO errors: unknown transport, version or session, bad handshake method', async () => {
  let r = await eio(0, { transport: 'carrier-pigeon' });
  assert.equal(r.status, 400);
  assert.deepEqual(JSON.parse(r.text), { code: 0, message: 'Transport unknown' });
  r = await eio(0, { transport: 'polling', sid: 'AAAAAAAAAAAAAAAAAAAA' });
  assert.equal(r.status, 400);
  assert.deepEqual(JSON.parse(r.text), { code: 1, message: 'Session ID unknown' });
  r = await eio(0, { transport: 'polling', EIO: '3' });
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.text).code, 5);
  r = await eio(0, { transport: 'polling' }, { method: 'POST', body: '40' });
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.text).code, 2);
  // the open packet
  r = await eio(0, { transport: 'polling', t: 'x', b64: '1' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=UTF-8');
  const o = JSON.parse(r.text.slice(1));
  assert.equal(r.text[0], '0');
  assert.equal(typeof o.sid, 'string');
  assert.deepEqual(o.upgrades, ['websocket']);
  assert.equal(o.pingInterval, 1500);
  assert.equal(o.pingTimeout, 1500);
  assert.ok(o.maxPayload > 0);
});

test('Engine.IO: a second concurrent GET is refused and ends the session', async () => {
  const { sid } = await eioOpen(0);
  const [g1, g2] = await Promise.all([
    eio(0, { transport: 'polling', sid }), eio(0, { transport: 'polling', sid })]);
  const codes = [g1.status, g2.status].sort();
  assert.deepEqual(codes, [200, 400]);
  const ok = g1.status === 200 ? g1 : g2;
  assert.equal(ok.text, '1', 'the held GET gets the close packet');
  const after = await eio(0, { transport: 'polling', sid });
  assert.deepEqual(JSON.parse(after.text), { code: 1, message: 'Session ID unknown' });
});

test('a malformed or binary packet ends that session only', async () => {
  const c = await sioClient(other, { transports: ['polling'] });
  for (const body of ['x', '4bad', '42["userOnline"', 'bAQID', '451-["x",{"_placeholder":true,"num":0}]']) {
    const { sid } = await eioOpen(other);
    const p = await eio(other, { transport: 'polling', sid }, { method: 'POST', body });
    assert.equal(p.status, 400, `POST ${body}`);
    assert.equal(JSON.parse(p.text).code, 3);
    const g = await eio(other, { transport: 'polling', sid });
    assert.equal(JSON.parse(g.text).code, 1, `session gone after ${body}`);
  }
  // over a WebSocket: closed
  const w = await eioWs(other);
  w.ws.send('4{');
  await waitFor([w], (x) => x.closed, { what: 'close' });
  // the other session did not notice
  assert.ok(Array.isArray(await c.ack('getOnlineUsers')));
  c.close();
});

test('upgrade: 2probe/3probe, the pending GET gets a noop at once, 5; then GET is 400 and a second WebSocket is closed', async () => {
  const { sid } = await eioOpen(0);
  let r = await eio(0, { transport: 'polling', sid }, { method: 'POST', body: '40' });
  assert.equal(r.text, 'ok');
  r = await eio(0, { transport: 'polling', sid });
  assert.match(r.text, /^40\{"sid":"[^"]+"\}$/);
  const pending = eio(0, { transport: 'polling', sid }); // held: nothing to send
  const w = await eioWs(0, { sid });
  w.ws.send('2probe');
  await waitFor(w.frames, (f) => f === '3probe', { what: '3probe' });
  assert.equal((await pending).text, '6', 'the pending GET is answered with a noop');
  r = await eio(0, { transport: 'polling', sid });
  assert.equal(r.text, '6', 'a GET during the upgrade gets a noop at once');
  w.ws.send('5');
  w.ws.send('42["getOnlineUsers"]');
  await waitFor(w.frames, (f) => f.startsWith('42["onlineUsersList",'), { what: 'list over the WebSocket' });
  r = await eio(0, { transport: 'polling', sid });
  assert.equal(r.status, 400);
  const w2 = await eioWs(0, { sid });
  await waitFor([w2], (x) => x.closed, { what: 'second WebSocket closed' });
  assert.equal(w.closed, false);
  w.ws.close();
});

test('a client that stops answering pings ends uncleanly: offline after the grace', async () => {
  const obs = await sioClient(other, { transports: ['websocket'] });
  const u = uid('mute');
  const w = await eioWs(0);
  const open = JSON.parse((await waitFor(w.frames, (f) => f[0] === '0', { what: 'open' })).slice(1));
  assert.deepEqual(open.upgrades, [], 'a WebSocket-only session offers no upgrade');
  w.ws.send('40');
  await waitFor(w.frames, (f) => f.startsWith('40{'), { what: 'CONNECT reply' });
  w.ws.send(`42["userOnline",{"userId":"${u}"}]`);
  await waitChange(obs, u, 'online');
  await waitFor(w.frames, (f) => f === '2', { what: 'ping', ms: 4000 });
  await waitFor([w], (x) => x.closed, { what: 'close after the ping timeout', ms: 5000 });
  await waitChange(obs, u, 'offline', { ms: graceMs + 5000 });
  obs.close();
});

test('CORS: allowed Origin echoed with credentials (preflight 204, GET, POST); others get no CORS headers and WebSocket 403', async () => {
  const origin = 'http://allowed.example';
  let r = await fetch(eioUrl(0, { transport: 'polling' }), {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-custom' },
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), origin);
  assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
  assert.match(r.headers.get('access-control-allow-methods'), /POST/);
  assert.match(r.headers.get('access-control-allow-headers'), /content-type, x-custom/);
  r = await fetch(eioUrl(0, { transport: 'polling' }), { headers: { origin } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('access-control-allow-origin'), origin);
  assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
  const { sid } = JSON.parse((await r.text()).slice(1));
  r = await fetch(eioUrl(0, { transport: 'polling', sid }), { method: 'POST', body: '40', headers: { origin } });
  assert.equal(await r.text(), 'ok');
  assert.equal(r.headers.get('access-control-allow-origin'), origin);
  assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
  r = await fetch(eioUrl(0, { transport: 'polling', sid }), { headers: { origin } });
  assert.equal(r.headers.get('access-control-allow-origin'), origin);
  // errors carry them too
  r = await fetch(eioUrl(0, { transport: 'polling', sid: 'nope' }), { headers: { origin } });
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('access-control-allow-origin'), origin);

  const evil = 'http://evil.example';
  r = await fetch(eioUrl(0, { transport: 'polling' }), {
    method: 'OPTIONS', headers: { origin: evil, 'access-control-request-method': 'GET' },
  });
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  assert.equal(r.headers.get('access-control-allow-credentials'), null);
  r = await fetch(eioUrl(0, { transport: 'polling' }), { headers: { origin: evil } });
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  await assert.rejects(eioWs(0, {}, { origin: evil }), /HTTP 403/);
  const ok = await eioWs(0, {}, { origin });
  ok.ws.close();
});

test('rate limit: a burst past the bucket is refused rate_limited, the session stays', async () => {
  const a = await sioClient(0, { transports: ['websocket'] });
  const u = uid('rl');
  await online(a, u);
  for (let i = 0; i < 120; i++) a.emit('userHeartbeat', { userId: u });
  await waitFor(a.seen, (e) => e.name === 'error' && e.args[0].code === 'rate_limited', { what: 'rate_limited' });
  assert.equal(a.socket.connected, true);
  a.close();
});

test('Chromium from another origin, withCredentials: polling with CORS, the upgrade, events both ways; a disallowed origin cannot connect',
  { skip: chromiumPath() ? false : 'no Chromium (scripts/deps installs it)' }, async () => {
    const { browser, page } = await browserPage('http://allowed.example');
    try {
      const user = uid('chrome');
      const obs = await sioClient(other, { transports: ['websocket'] });
      const r = await page.evaluate(async (url, userId) => {
        const s = io(url, { withCredentials: true, reconnection: false });
        let first = null;
        const upgraded = new Promise((res) => s.io.once('open', () => {
          first = s.io.engine.transport.name; // at the handshake
          s.io.engine.once('upgrade', res);
        }));
        window.seen = [];
        s.on('userStatusChanged', (m) => window.seen.push(m));
        await new Promise((res, rej) => { s.once('connect', res); s.once('connect_error', rej); });
        await upgraded;
        const ack = await s.timeout(5000).emitWithAck('userOnline', { userId, userType: 'browser', userName: 'Chromium' });
        const p = io(url, { withCredentials: true, reconnection: false, transports: ['polling'], forceNew: true });
        await new Promise((res, rej) => { p.once('connect', res); p.once('connect_error', rej); });
        const list = await p.timeout(5000).emitWithAck('getOnlineUsers');
        p.close();
        return { first, now: s.io.engine.transport.name, ack, listed: list.some((u) => u.userId === userId) };
      }, gateways[0], user);
      assert.deepEqual(r, { first: 'polling', now: 'websocket', ack: { ok: true }, listed: true });
      await waitChange(obs, user, 'online');
      const other2 = await sioClient(other);
      const u2 = uid('node');
      await online(other2, u2);
      const seen = async () => page.evaluate(() => window.seen);
      const deadline = Date.now() + 5000;
      let got = [];
      while (Date.now() < deadline && !got.some((m) => m.userId === u2 && m.status === 'online')) {
        got = await seen();
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.ok(got.some((m) => m.userId === u2 && m.status === 'online'), `browser saw ${JSON.stringify(got)}`);
      for (const x of [obs, other2]) x.close();
    } finally {
      await browser.close();
    }
    const evil = await browserPage('http://evil.example');
    try {
      const err = await evil.page.evaluate(async (url) => {
        const out = [];
        for (const transports of [['polling'], ['websocket']]) {
          const s = io(url, { withCredentials: true, reconnection: false, transports, timeout: 3000 });
          out.push(await new Promise((res) => {
            s.once('connect', () => { s.close(); res('connected'); });
            s.once('connect_error', (e) => { s.close(); res(`error: ${e.message}`); });
          }));
        }
        return out;
      }, gateways[0]);
      assert.equal(err.length, 2);
      for (const e of err) assert.match(e, /^error: /);
    } finally {
      await evil.browser.close();
    }
  });

test('an admin kick: DISCONNECT from the server (no reconnect), offline at once', async () => {
  const obs = await sioClient(0, { transports: ['websocket'] });
  const u = uid('kick');
  const ws = await sioClient(other, { transports: ['websocket'] });
  const poll = await sioClient(0, { transports: ['polling'] });
  await online(ws, u);
  await online(poll, u);
  await waitChange(obs, u, 'online');
  const reasons = [];
  ws.socket.on('disconnect', (r) => reasons.push(`ws ${r}`));
  poll.socket.on('disconnect', (r) => reasons.push(`poll ${r}`));
  const r = await api('DELETE', `/v1/users/${u}/sessions`);
  assert.equal(r.status, 200);
  assert.equal(r.json.ended, 2);
  await waitChange(obs, u, 'offline');
  assert.ok(await endedClean(u), 'a kick is a clean end');
  await waitFor(reasons, () => reasons.length >= 2, { what: 'two disconnects' });
  // "io server disconnect" (a DISCONNECT packet), not "transport close":
  // socket.io-client does not reconnect after it
  assert.deepEqual(reasons.sort(), ['poll io server disconnect', 'ws io server disconnect']);
  obs.close();
});
