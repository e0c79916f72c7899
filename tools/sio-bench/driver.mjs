// Driver of the "Socket.IO broadcast" benchmark (docs/BENCHMARKS.md): N
// socket.io-client 4.8 clients against a Socket.IO server speaking seed
// 001's events (presence's gateway or seed001-server.mjs), and the server's
// CPU and RSS read from /proc. Not a test; it stops by itself.
//
//   node driver.mjs --url http://127.0.0.1:PORT [--clients 2000]
//       [--changers 10] [--rate 20] [--duration 10] [--timeout 240]
//       [--pid NAME=PID]... [--extra NAME=PID]... [--label TEXT]
//
// 1. Reads each process's VmRSS (before).
// 2. Connects --clients clients, WebSocket only (transports: ["websocket"],
//    which keeps the driver cheap; seed 001's default polling-then-upgrade
//    ends on the same WebSocket), each makes its user (ids 1..N) online
//    with userOnline {userId, userType, userName} (with an ack, to know it
//    took), then waits until no userStatusChanged has arrived for 1 s.
// 3. Reads VmRSS again (connected): RSS per connection = (connected -
//    before) / N.
// 4. Measured phase: the first --changers clients take turns to change
//    their user's status (userOffline, then userOnline again, ...), --rate
//    changes per second in all, for --duration seconds. The server
//    broadcasts each change to every client (seed 001: io.emit); the
//    driver counts every userStatusChanged received (deliveries) until
//    all expected arrived or none came for 3 s. CPU (utime + stime from
//    /proc/PID/stat) is read at the start and the end of this phase;
//    "kernel" is the stime part of it.
// 5. Prints a table and one line "result {json}".
//
// --pid NAME=PID: a server process, counted in the total. --extra
// NAME=PID: a process with all its descendants (e.g. the postmaster),
// shown on its own line and in "total + extras", not in the total.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { io } from 'socket.io-client';

const argv = process.argv.slice(2);
const o = {
  url: 'http://127.0.0.1:3001', clients: 2000, changers: 10, rate: 20,
  duration: 10, timeout: 240, label: '', pids: [], extras: [],
};
for (let i = 0; i < argv.length; i++) {
  const k = argv[i];
  const v = argv[++i];
  if (v === undefined) throw new Error(`${k} needs a value`);
  const named = () => {
    const m = /^([^=]+)=(\d+)$/.exec(v);
    if (!m) throw new Error(`${k} wants NAME=PID, not ${v}`);
    return { name: m[1], pid: Number(m[2]) };
  };
  switch (k) {
    case '--url': o.url = v; break;
    case '--clients': o.clients = Number(v); break;
    case '--changers': o.changers = Number(v); break;
    case '--rate': o.rate = Number(v); break;
    case '--duration': o.duration = Number(v); break;
    case '--timeout': o.timeout = Number(v); break;
    case '--label': o.label = v; break;
    case '--pid': o.pids.push(named()); break;
    case '--extra': o.extras.push(named()); break;
    default: throw new Error(`unknown option ${k}`);
  }
}
if (!/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(o.url)) {
  throw new Error('loopback targets only');
}
if (o.changers < 1 || o.changers > o.clients) throw new Error('--changers must be 1..--clients');

setTimeout(() => {
  console.error(`driver: timeout after ${o.timeout} s`);
  process.exit(3);
}, o.timeout * 1000).unref();

const TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const log = (...a) => console.error('driver:', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// utime + stime (ticks) and VmRSS (KiB) of one process; null if gone.
function proc1(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // fields 14, 15
    const sys = Number(f[12]);
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(st);
    return { ticks, sys, rss: m ? Number(m[1]) : 0 };
  } catch {
    return null;
  }
}
// pid and its descendants
function tree(pid, out = []) {
  out.push(pid);
  let kids = [];
  try {
    for (const t of execFileSync('ls', [`/proc/${pid}/task`]).toString().split(/\s+/)) {
      if (!t) continue;
      try {
        kids = kids.concat(readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8')
          .split(/\s+/).filter(Boolean).map(Number));
      } catch { /* gone */ }
    }
  } catch { /* gone */ }
  for (const k of kids) tree(k, out);
  return out;
}
// {name: {ticks, rss, n}} for every --pid and --extra
function sample() {
  const s = {};
  for (const { name, pid } of o.pids) {
    const p = proc1(pid);
    if (!p) throw new Error(`process ${name} (${pid}) is gone`);
    s[name] = { ...p, n: 1 };
  }
  for (const { name, pid } of o.extras) {
    const acc = { ticks: 0, sys: 0, rss: 0, n: 0 };
    for (const q of tree(pid)) {
      const p = proc1(q);
      if (p) { acc.ticks += p.ticks; acc.sys += p.sys; acc.rss += p.rss; acc.n++; }
    }
    s[name] = acc;
  }
  return s;
}

let received = 0; // userStatusChanged, all clients
const clients = [];

function connect(i) {
  return new Promise((resolve, reject) => {
    const socket = io(o.url, {
      transports: ['websocket'], reconnection: false, forceNew: true, timeout: 20000,
    });
    socket.on('userStatusChanged', () => { received++; });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (e) => reject(new Error(`client ${i}: ${e.message}`)));
    socket.on('disconnect', (why) => {
      if (!done) log(`client ${i} disconnected: ${why}`);
    });
  });
}
let done = false;

async function quiet(ms, maxMs) {
  const t0 = Date.now();
  let last = received;
  let since = Date.now();
  while (Date.now() - t0 < maxMs) {
    await sleep(100);
    if (received !== last) { last = received; since = Date.now(); }
    else if (Date.now() - since >= ms) return true;
  }
  return false;
}

const user = (i) => ({ userId: i + 1, userType: 'bench', userName: `user${i + 1}` });

async function main() {
  const before = sample();
  const tc0 = Date.now();
  // connect and go online, 50 at a time
  const B = 50;
  for (let i = 0; i < o.clients; i += B) {
    const batch = [];
    for (let j = i; j < Math.min(o.clients, i + B); j++) {
      batch.push(connect(j).then(async (s) => {
        clients[j] = s;
        const r = await s.timeout(30000).emitWithAck('userOnline', user(j));
        if (!r || r.ok !== true) throw new Error(`userOnline ${j + 1}: ${JSON.stringify(r)}`);
      }));
    }
    await Promise.all(batch);
  }
  const connectS = (Date.now() - tc0) / 1000;
  log(`${o.clients} clients connected and online in ${connectS.toFixed(1)} s`);
  if (!await quiet(1000, 120000)) throw new Error('setup broadcasts never settled');
  const list = await clients[o.clients - 1].timeout(30000).emitWithAck('getOnlineUsers');
  if (!Array.isArray(list) || list.length < o.clients) {
    throw new Error(`getOnlineUsers: ${Array.isArray(list) ? list.length : JSON.stringify(list)} online, want ${o.clients}`);
  }
  const connected = sample();
  const setupDeliveries = received;
  log(`settled (${setupDeliveries} setup deliveries); measuring for ${o.duration} s`);

  // measured phase
  const c0 = sample();
  const cpu0 = process.cpuUsage();
  received = 0;
  const online = new Array(o.changers).fill(true);
  let changes = 0;
  const t0 = Date.now();
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const el = (Date.now() - t0) / 1000;
      const due = Math.min(Math.floor(el * o.rate), Math.round(o.duration * o.rate));
      while (changes < due) {
        const j = changes % o.changers;
        if (online[j]) clients[j].emit('userOffline', { userId: j + 1 });
        else clients[j].emit('userOnline', user(j));
        online[j] = !online[j];
        changes++;
      }
      if (el >= o.duration) { clearInterval(tick); resolve(); }
    }, 5);
  });
  const sendS = (Date.now() - t0) / 1000;
  const expected = changes * o.clients;
  const td = Date.now();
  let last = received;
  let since = Date.now();
  while (received < expected && Date.now() - since < 1000 && Date.now() - td < 60000) {
    await sleep(50);
    if (received !== last) { last = received; since = Date.now(); }
  }
  const drainS = (Date.now() - td) / 1000;
  const c1 = sample();
  const cpuDrv = process.cpuUsage(cpu0);
  const deliveries = received;
  done = true;

  // report
  const rows = [];
  const per = (ticks) => (ticks * 1000 / TCK) * 1000 / deliveries; // CPU-ms per 1,000
  const add = (name, kind) => {
    const ticks = c1[name].ticks - c0[name].ticks;
    const drss = connected[name].rss - before[name].rss;
    const sys = c1[name].sys - c0[name].sys;
    rows.push({ name, kind, cpuMs: ticks * 1000 / TCK, sysMs: sys * 1000 / TCK, cpuPer1k: per(ticks),
      rssBefore: before[name].rss, rssConnected: connected[name].rss, rssAfter: c1[name].rss,
      rssPerConn: drss / o.clients, procs: c1[name].n });
  };
  for (const { name } of o.pids) add(name, 'server');
  for (const { name } of o.extras) add(name, 'extra');
  const sum = (rs, name) => {
    const r = { name, kind: 'sum', cpuMs: 0, sysMs: 0, cpuPer1k: 0, rssBefore: 0, rssConnected: 0, rssAfter: 0, rssPerConn: 0 };
    for (const x of rs) for (const k of ['cpuMs', 'sysMs', 'cpuPer1k', 'rssBefore', 'rssConnected', 'rssAfter', 'rssPerConn']) r[k] += x[k];
    return r;
  };
  const servers = rows.filter((r) => r.kind === 'server');
  const total = sum(servers, 'total');
  const all = o.extras.length ? sum(rows, 'total + extras') : null;
  const result = {
    label: o.label, url: o.url, clients: o.clients, changers: o.changers, rate: o.rate,
    duration: o.duration, connectS, setupDeliveries, changes, sendS, drainS, expected, deliveries,
    driverCpuMs: (cpuDrv.user + cpuDrv.system) / 1000, rows, total, all,
  };
  const f1 = (x) => x.toFixed(1);
  const kib = (x) => `${Math.round(x)}`;
  console.log(`${o.label || o.url}: ${o.clients} clients, ${changes} changes in ${sendS.toFixed(1)} s, ` +
    `${deliveries} deliveries of ${expected} expected (drain ${drainS.toFixed(1)} s), ` +
    `driver CPU ${f1(result.driverCpuMs)} ms`);
  console.log('process          CPU-ms  kernel  CPU-ms/1k deliv  RSS before  RSS connected  RSS end  KiB/conn');
  for (const r of [...rows, total, ...(all ? [all] : [])]) {
    const kpct = r.cpuMs ? `${Math.round(100 * r.sysMs / r.cpuMs)}%` : '-';
    console.log(`${r.name.padEnd(15)} ${f1(r.cpuMs).padStart(7)} ${kpct.padStart(7)} ${f1(r.cpuPer1k).padStart(16)} ` +
      `${kib(r.rssBefore).padStart(11)} ${kib(r.rssConnected).padStart(14)} ${kib(r.rssAfter).padStart(8)} ` +
      `${r.rssPerConn.toFixed(2).padStart(9)}`);
  }
  if (deliveries !== expected) {
    console.log(`note: ${expected - deliveries} fewer deliveries than changes x clients`);
  }
  console.log(`result ${JSON.stringify(result)}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(`driver: ${e.stack || e}`);
  process.exit(2);
});
