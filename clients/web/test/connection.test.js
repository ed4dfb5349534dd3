import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BURST } from '../lib/clock.js';
import { SILENCE, StageConnection, backoff } from '../lib/connection.js';

/** A clock and timers the test moves by hand. */
class Time {
  constructor() {
    this.now = 100;
    /** @type {{at: number, fn: () => void, id: number}[]} */
    this.timers = [];
    this.ids = 0;
  }
  set(fn, ms) {
    const id = ++this.ids;
    this.timers.push({ at: this.now + ms / 1000, fn, id });
    return id;
  }
  clear(id) {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  /** Run every timer due within `seconds`, in order. */
  advance(seconds) {
    const end = this.now + seconds;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.now = next.at;
      next.fn();
    }
    this.now = end;
  }
}

/** The server's side of one socket: answers hello and (when `answering`) sync, its clock `offset` ahead. */
function sockets(time, offset, log) {
  return class Socket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.answering = true;
      this.sent = [];
      log.push(this);
      time.set(() => {
        this.readyState = 1;
        this.onopen?.();
      }, 1);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
      const msg = JSON.parse(text);
      if (msg.type === 'hello') {
        time.set(() => this.onmessage?.({ data: JSON.stringify({ type: 'welcome', protocol: 1, client: 7, role: 'musician', topics: [], server_time: 0 }) }), 1);
      } else if (msg.type === 'sync' && this.answering) {
        // 1 ms each way, read and written at once.
        const t1 = time.now + 0.001 + offset;
        time.set(() => this.onmessage?.({ data: JSON.stringify({ type: 'sync', t0: msg.t0, t1, t2: t1 }) }), 2);
      }
    }
    close() {
      if (this.readyState === 3) return;
      this.readyState = 3;
      time.set(() => this.onclose?.(), 0);
    }
  };
}

function link(time, offset, log) {
  const states = [];
  const conn = new StageConnection({
    url: 'ws://stage/ws', role: 'musician', name: 'desk 4', topics: ['transport'],
    now: () => time.now, socket: sockets(time, offset, log),
    setTimer: (fn, ms) => time.set(fn, ms), clearTimer: (id) => time.clear(id),
  });
  conn.onstate = (s) => states.push(s);
  return { conn, states };
}

test('hello, then a burst of sync exchanges that sets the clock', () => {
  const time = new Time();
  const log = [];
  const { conn, states } = link(time, 5000, log);
  conn.start();
  time.advance(1);
  assert.deepEqual(states, ['open']);
  assert.deepEqual(log[0].sent[0], { type: 'hello', role: 'musician', topics: ['transport'], name: 'desk 4' });
  assert.equal(log[0].sent.filter((m) => m.type === 'sync').length, BURST);
  const q = conn.clock.quality(time.now);
  assert.equal(q.trusted, true);
  assert.ok(Math.abs(conn.clock.toServer(time.now) - (time.now + 5000)) < 1e-6);
  assert.ok(Math.abs(q.delay - 0.002) < 1e-9);
});

test('a server gone silent is given up and connected again; a closed one is reconnected with back-off', () => {
  const time = new Time();
  const log = [];
  const { conn, states } = link(time, 0, log);
  conn.start();
  time.advance(1);
  log[0].answering = false;
  time.advance(8 + SILENCE + 1); // the next burst goes unanswered
  assert.equal(log.length, 2, 'a new socket');
  assert.equal(log[0].readyState, 3);
  assert.deepEqual(states.slice(0, 2), ['open', 'lost']);
  time.advance(1);
  assert.equal(conn.state, 'open');
  // The server closes: lost at once, then attempts after 0.25 s, 0.5 s, … while it stays away.
  log[1].close();
  log[1].answering = false;
  time.advance(0.001);
  assert.equal(conn.state, 'lost');
  assert.deepEqual([1, 2, 3, 9].map(backoff), [0.25, 0.5, 1, 4]);
  assert.equal(conn.clock.quality(time.now).trusted, false);
});

test('send refuses while not connected; close stops for good', () => {
  const time = new Time();
  const log = [];
  const { conn } = link(time, 0, log);
  assert.equal(conn.send('{"type":"snapshot"}'), false);
  conn.start();
  time.advance(1);
  assert.equal(conn.send('{"type":"snapshot"}'), true);
  conn.close();
  time.advance(30);
  assert.equal(log.length, 1);
});
