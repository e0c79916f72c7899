// The Socket.IO drop-in under auth jwt (docs/MIGRATING.md): the token in the
// CONNECT's auth, in Authorization: Bearer or in ?token=; userId must be
// the token's subject; audience all only for the admin claim on gw1, for
// everyone on gw2 (socketio_audience_all_users there, CMakeLists.txt);
// allowed_origins is empty, so any Origin is echoed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { gateways, uid, token, waitFor, expectNone, api } from './lib.mjs';
import { sioClient, waitChange, online, eioUrl, closeAll } from './sio.mjs';

after(closeAll);

const gw2 = gateways.length > 1 ? 1 : 0;
const admin = () => sioClient(0, { transports: ['websocket'], auth: { token: token(uid('adm'), { admin: true }) } });

function refused(url, opts) {
  const s = io(url, { reconnection: false, forceNew: true, timeout: 5000, ...opts });
  return new Promise((res, rej) => {
    s.once('connect_error', (e) => { s.close(); res(e); });
    s.once('connect', () => { s.close(); rej(new Error('connected')); });
  });
}

test('the token in auth names the user: userOnline for it works, for another id is refused and changes nothing', async () => {
  const adm = await admin();
  const u = uid('j'), other = uid('x');
  const c = await sioClient(gw2, { auth: { token: token(u) } });
  await online(c, u, 'agent', 'Jay');
  await waitChange(adm, u, 'online');
  const r = await c.ack('userOnline', { userId: other });
  assert.equal(r.ok, false);
  assert.equal(r.error, 'unauthorized');
  const r2 = await c.ack('userOffline', { userId: other });
  assert.equal(r2.error, 'unauthorized');
  const from = adm.changes.length;
  c.emit('userHeartbeat', { userId: other }); // no ack: an error event
  await waitFor(c.seen, (e) => e.name === 'error' && e.args[0].code === 'unauthorized', { what: 'error event' });
  await expectNone(adm.changes, (m) => m.userId === other || m.userId === u, { from, ms: 500, what: 'a change' });
  // the session of the token's user is untouched
  const list = await c.ack('getOnlineUsers');
  assert.ok(list.some((x) => x.userId === u && x.userName === 'Jay'));
  c.close();
  adm.close();
});

test('without a valid token the CONNECT is refused (connect_error)', async () => {
  let e = await refused(gateways[0], { transports: ['websocket'] });
  assert.match(e.message, /token required/);
  e = await refused(gateways[0], { auth: { token: 'not.a.token' } });
  assert.match(e.message, /invalid token/);
  const expired = token(uid('old'), { exp: Math.floor(Date.now() / 1000) - 10 });
  e = await refused(gateways[0], { transports: ['websocket'], auth: { token: expired } });
  assert.match(e.message, /invalid token/);
});

test('the token may come in Authorization: Bearer or ?token= instead', async () => {
  const adm = await admin();
  const a = uid('hdr'), b = uid('qry'), c = uid('ws');
  const ca = await sioClient(gw2, { transports: ['polling'], extraHeaders: { authorization: `Bearer ${token(a)}` } });
  const cb = await sioClient(0, { query: { token: token(b) } });
  const cc = await sioClient(gw2, { transports: ['websocket'], extraHeaders: { authorization: `Bearer ${token(c)}` } });
  await online(ca, a);
  await online(cb, b);
  await online(cc, c);
  for (const x of [a, b, c]) await waitChange(adm, x, 'online');
  assert.equal((await ca.ack('userOnline', { userId: b })).error, 'unauthorized');
  for (const x of [ca, cb, cc, adm]) x.close();
});

test('audience: all for the admin claim or on a gateway with socketio_audience_all_users, else the v1 audience', async () => {
  const x = uid('x'), mate = uid('mate'), stranger = uid('str'), anyone = uid('any'), t = uid('t');
  assert.equal((await api('PUT', `/v1/threads/${t}/members`, { user_ids: [x, mate] })).status, 200);
  const adm = await admin();
  const cm = await sioClient(0, { auth: { token: token(mate) } });
  const cs = await sioClient(0, { transports: ['websocket'], auth: { token: token(stranger) } });
  const ca = await sioClient(gw2, { auth: { token: token(anyone) } }); // never userOnline: an observer
  await online(cm, mate);
  await online(cs, stranger);
  const cx = await sioClient(gw2, { transports: ['websocket'], auth: { token: token(x) } });
  await online(cx, x, 'agent', 'Ex');
  await waitChange(adm, x, 'online');
  await waitChange(cm, x, 'online'); // a co-member
  await waitChange(ca, x, 'online'); // all users on gw2
  await expectNone(cs.changes, (m) => m.userId === x, { ms: 500, what: `${x} at a stranger` });
  // lists follow the audience too
  const ml = await cm.ack('getOnlineUsers');
  assert.ok(ml.some((u) => u.userId === x && u.userName === 'Ex'));
  assert.ok(!ml.some((u) => u.userId === stranger), 'a stranger is not in a co-member\'s list');
  const sl = await cs.ack('getOnlineUsers');
  assert.ok(!sl.some((u) => u.userId === x));
  const al = await ca.ack('getOnlineUsers');
  assert.ok(al.some((u) => u.userId === x) && al.some((u) => u.userId === stranger));
  // offline reaches the same audience
  cx.emit('userOffline', { userId: x });
  await waitChange(cm, x, 'offline');
  await waitChange(ca, x, 'offline');
  for (const c of [adm, cm, cs, ca, cx]) c.close();
});

test('a session ends at its token\'s exp (error token_expired; unclean)', async () => {
  const adm = await admin();
  const u = uid('exp');
  const exp = Math.floor(Date.now() / 1000) + 2;
  const cs = [];
  for (const transports of [['websocket'], ['polling']]) {
    const c = await sioClient(gw2, { transports, auth: { token: token(u, { exp }) } });
    await online(c, u);
    cs.push(c);
  }
  await waitChange(adm, u, 'online');
  for (const c of cs) {
    await waitFor(c.seen, (e) => e.name === 'error' && e.args[0].code === 'token_expired', { what: 'token_expired', ms: 5000 });
    await waitFor([c.socket], (s) => !s.connected, { what: 'disconnect' });
  }
  await waitChange(adm, u, 'offline', { ms: 8000 });
  adm.close();
});

test('CORS with allowed_origins empty: any Origin is echoed', async () => {
  const origin = 'http://anywhere.example';
  let r = await fetch(eioUrl(0, { transport: 'polling' }), {
    method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET' },
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), origin);
  r = await fetch(eioUrl(0, { transport: 'polling' }), { headers: { origin } });
  assert.equal(r.headers.get('access-control-allow-origin'), origin);
  assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
});
