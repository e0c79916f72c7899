// Across drop-ins and gateways (COMPAT: a drop-in session is a presence
// session like any other): a Socket.IO user on gw1 is seen by a v1
// watcher and by a SignalR tracker on gw2, goes offline only after the
// grace when its connection drops, and shows no flicker when it comes back
// within the grace; a SignalR user on gw2 is seen by a Socket.IO client on
// gw1 and by a v1 watcher.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { gateways, graceMs, uid, intId, waitFor, expectNone } from './lib.mjs';
import { v1client } from './v1ws.test.mjs';
import { sioClient, online, waitChange, closeAll } from './sio.mjs';

const gw2 = gateways.length > 1 ? 1 : 0;
const hubs = [];
const sockets = [];
after(async () => {
  closeAll();
  for (const s of sockets) s.close();
  await Promise.all(hubs.map((h) => h.conn.stop().catch(() => {})));
});

async function tracker(user, gw) {
  const conn = new signalR.HubConnectionBuilder()
    .withUrl(gateways[gw] + '/hubs/location')
    .configureLogging(signalR.LogLevel.None)
    .build();
  const seen = [];
  for (const ev of ['UserStatusChanged', 'UserRegistered'])
    conn.on(ev, (a) => seen.push({ ev, ...a }));
  await conn.start();
  const h = { conn, seen };
  hubs.push(h);
  await conn.invoke('RegisterUser', user);
  await waitFor(seen, (m) => m.ev === 'UserRegistered', { what: 'UserRegistered' });
  return h;
}

const hubStatus = (id, active) => (m) =>
  m.ev === 'UserStatusChanged' && String(m.user_id) === String(id) && m.is_active === active;
const v1Status = (id, status) => (m) =>
  m.type === 'presence' && String(m.user_id) === String(id) && m.status === status;

test('a Socket.IO user is seen by a v1 watcher and a SignalR tracker on another gateway, with grace and no flicker', async () => {
  const u = intId();
  const w = await v1client(uid('w'), gw2);
  sockets.push(w.ws);
  w.send({ type: 'watch', id: 'w1', user_ids: [String(u)] });
  await waitFor(w.seen, (m) => m.type === 'presence_list' && m.id === 'w1', { what: 'watch reply' });
  const t = await tracker(uid('t'), gw2);
  await t.conn.invoke('JoinUserTracking', u);

  const s = await sioClient(0, { transports: ['polling', 'websocket'] });
  await online(s, u, 'agent', 'Ann');
  await waitFor(w.seen, v1Status(u, 'online'), { what: `${u} online at the v1 watcher` });
  await waitFor(t.seen, hubStatus(u, true), { what: `${u} active at the SignalR tracker` });

  // The connection drops without userOffline: offline only after the
  // grace; back within it: nothing at all.
  let wFrom = w.seen.length, tFrom = t.seen.length;
  s.socket.io.engine.close(); // a transport loss, not a clean leave
  await expectNone(w.seen, v1Status(u, 'offline'), { ms: graceMs / 2, from: wFrom, what: 'offline before the grace' });
  const s2 = await sioClient(0, { transports: ['websocket'] });
  await online(s2, u, 'agent', 'Ann');
  await expectNone(w.seen, (m) => m.type === 'presence' && String(m.user_id) === String(u),
    { ms: graceMs + 1000, from: wFrom, what: 'a flicker at the v1 watcher' });
  await expectNone(t.seen, (m) => m.ev === 'UserStatusChanged' && String(m.user_id) === String(u),
    { ms: 10, from: tFrom, what: 'a flicker at the SignalR tracker' });

  // This time it stays away: offline after the grace, at both.
  wFrom = w.seen.length; tFrom = t.seen.length;
  const lost = Date.now();
  s2.socket.io.engine.close();
  await waitFor(w.seen, v1Status(u, 'offline'), { ms: graceMs + 5000, from: wFrom, what: `${u} offline at the v1 watcher` });
  await waitFor(t.seen, hubStatus(u, false), { ms: 5000, from: tFrom, what: `${u} inactive at the SignalR tracker` });
  assert.ok(Date.now() - lost >= graceMs - 100, 'offline came before the grace ran out');
});

test('a SignalR user is seen by a Socket.IO client and a v1 watcher on another gateway', async () => {
  const u = intId();
  const s = await sioClient(0, { transports: ['websocket'] });
  const w = await v1client(uid('w'), 0);
  sockets.push(w.ws);
  w.send({ type: 'watch', id: 'w2', user_ids: [String(u)] });
  await waitFor(w.seen, (m) => m.type === 'presence_list' && m.id === 'w2', { what: 'watch reply' });
  const from = s.changes.length;
  const h = await tracker(u, gw2);
  const ch = await waitChange(s, u, 'online', { from });
  assert.equal(typeof ch.userId, 'number', 'an integer id comes out as a JSON number');
  await waitFor(w.seen, v1Status(u, 'online'), { what: `${u} online at the v1 watcher` });
  // stop() is an unclean end (grace applies), as a SignalR client's Close
  await h.conn.stop();
  await waitChange(s, u, 'offline', { from, ms: graceMs + 5000 });
  await waitFor(w.seen, v1Status(u, 'offline'), { ms: 5000, what: `${u} offline at the v1 watcher` });
});
