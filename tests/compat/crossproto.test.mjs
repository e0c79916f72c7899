// Across drop-ins and gateways (COMPAT: a drop-in session is a presence
// session like any other): a Socket.IO user on gw1 is seen by a v1
// watcher and by a SignalR tracker on gw2, goes offline only after the
// grace when its connection drops, and shows no flicker when it comes back
// within the grace; a SignalR user on gw2 is seen by a Socket.IO client on
// gw1 and by a v1 watcher.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import WebSocket from 'ws';
import { gateways, graceMs, uid, intId, waitFor, expectNone, wsUrl } from './lib.mjs';
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

// A raw WebSocket on path that sends `first` messages, then `garbage`;
// resolves with the close code once the gateway closes it.
async function garbageClient(path, first, garbage) {
  const ws = new WebSocket(wsUrl(gateways[0], path));
  sockets.push(ws);
  const got = [];
  ws.on('message', (m) => got.push(m.toString()));
  const closed = new Promise((r) => ws.on('close', (code) => r(code)));
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  for (const [msg, reply] of first) {
    ws.send(msg);
    await waitFor(got, (m) => m.startsWith(reply), { what: `reply ${reply} on ${path}` });
  }
  ws.send(garbage);
  return closed;
}

test('garbage closes only its own connection: Socket.IO and SignalR canaries keep being served', async () => {
  const x = uid('x');
  const canary = await sioClient(0, { transports: ['websocket'] });
  const t = await tracker(uid('t'), 0);
  await t.conn.invoke('JoinUserTracking', x);

  const sioCode = await garbageClient('/socket.io/?EIO=4&transport=websocket',
    [['40', '40']], '42["userOnline",{"userId":');
  assert.ok(sioCode >= 1000, `Socket.IO garbage: closed with ${sioCode}`);
  const srCode = await garbageClient('/hubs/location',
    [['{"protocol":"json","version":1}\x1e', '{}']], '{"type":1,"target":\x1e');
  assert.ok(srCode >= 1000, `SignalR garbage: closed with ${srCode}`);

  const from = canary.changes.length, tFrom = t.seen.length;
  const v = await v1client(x, gw2);
  sockets.push(v.ws);
  await waitChange(canary, x, 'online', { from });
  await waitFor(t.seen, hubStatus(x, true), { from: tFrom, what: `${x} active at the SignalR canary` });
  assert.equal(canary.socket.connected, true);
});
