// The page's link to the stage: one WebSocket to /ws, hello, clock-sync bursts, and reconnecting by itself.
// No DOM: the WebSocket class, the clock and the timers are given, so it runs (and is tested) anywhere.

import { BURST, ClockSync, INTERVAL } from './clock.js';
import { hello, parse, sync } from './protocol.js';

/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {'connecting' | 'open' | 'lost'} LinkState */

/** Seconds between two exchanges of a burst. */
export const GAP = 0.025;
/** Seconds a sync reply may take before the exchange is given up. */
export const REPLY_TIMEOUT = 0.5;
/** Seconds without any sync reply after which the connection counts as dead and is made again. */
export const SILENCE = 3;

/**
 * Seconds to wait before reconnect attempt `n` (1, 2, …): quick at first, then every few seconds.
 * @param {number} n
 * @returns {number}
 */
export function backoff(n) {
  return Math.min(0.25 * 2 ** Math.max(0, n - 1), 4);
}

/**
 * @typedef {object} Options
 * @property {string} url ws://host:port/ws
 * @property {string} role
 * @property {string} name
 * @property {readonly string[]} topics
 * @property {string} [token]
 * @property {() => number} now the page's clock in seconds (performance.now() / 1000)
 * @property {new (url: string) => WebSocket} [socket] the WebSocket class
 * @property {(fn: () => void, ms: number) => unknown} [setTimer]
 * @property {(id: unknown) => void} [clearTimer]
 */

export class StageConnection {
  /** @param {Options} options */
  constructor(options) {
    this.options = options;
    this.clock = new ClockSync();
    /** @type {LinkState} */
    this.state = 'connecting';
    /** Reconnect attempts since the last open connection. */
    this.attempts = 0;
    /** The server's id for this connection (from welcome). */
    this.client = 0;
    /** @type {(msg: ServerMessage) => void} */
    this.onmessage = () => {};
    /** @type {(state: LinkState) => void} */
    this.onstate = () => {};
    /** Told after every burst (the clock changed). */
    this.onsync = () => {};
    /** @type {WebSocket | null} */
    this.ws = null;
    this.closed = false;
    /** @type {unknown} */
    this.timer = null;
    /** @type {unknown} */
    this.burstTimer = null;
    this.inBurst = 0;
    this.pendingT0 = NaN;
    /** The page's time of the first sync request not answered since the last reply (NaN: none). */
    this.unanswered = NaN;
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((id) => clearTimeout(/** @type {number} */ (id)));
  }

  /** Connect (and keep connecting until `close`). */
  start() {
    this.closed = false;
    this.connect();
  }

  /** Close for good. */
  close() {
    this.closed = true;
    this.clearTimer(this.timer);
    this.clearTimer(this.burstTimer);
    this.ws?.close();
  }

  /**
   * Send a text frame if connected; false otherwise.
   * @param {string} text
   * @returns {boolean}
   */
  send(text) {
    if (this.ws === null || this.state !== 'open' || this.ws.readyState !== 1) return false;
    this.ws.send(text);
    return true;
  }

  /** @private */
  connect() {
    const Socket = this.options.socket ?? WebSocket;
    this.clock.reset();
    this.setState(this.attempts === 0 ? 'connecting' : 'lost');
    const ws = new Socket(this.options.url);
    this.ws = ws;
    ws.onopen = () => {
      const o = this.options;
      ws.send(hello(o.role, o.name, o.topics, o.token));
    };
    ws.onmessage = (ev) => this.receive(typeof ev.data === 'string' ? ev.data : '');
    ws.onclose = () => this.lost(ws);
    ws.onerror = () => {}; // a close follows; the page says so itself
  }

  /**
   * @private
   * @param {WebSocket} ws
   */
  lost(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.clearTimer(this.burstTimer);
    this.clock.reset();
    if (this.closed) return;
    this.attempts += 1;
    this.setState('lost');
    this.timer = this.setTimer(() => this.connect(), backoff(this.attempts) * 1000);
  }

  /**
   * @private
   * @param {LinkState} state
   */
  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onstate(state);
  }

  /**
   * @private
   * @param {string} text
   */
  receive(text) {
    const t3 = this.options.now();
    const msg = parse(text);
    if (msg === null) return;
    if (msg.type === 'sync') {
      if (msg.t0 === this.pendingT0) {
        this.clock.add(msg.t0, msg.t1, msg.t2, t3);
        this.unanswered = NaN;
        this.pendingT0 = NaN;
        this.clearTimer(this.burstTimer);
        this.burstTimer = this.setTimer(() => this.exchange(), GAP * 1000);
      }
      return;
    }
    if (msg.type === 'welcome') {
      this.client = msg.client;
      this.attempts = 0;
      this.setState('open');
      this.unanswered = NaN;
      this.burst();
    }
    this.onmessage(msg);
  }

  /** @private Start a burst of exchanges. */
  burst() {
    this.inBurst = 0;
    this.exchange();
  }

  /** @private One exchange of the burst, or its end. */
  exchange() {
    const now = this.options.now();
    if (this.ws === null) return;
    if (now - this.unanswered > SILENCE) {
      // Nothing came back for seconds: the link is dead although no close arrived.  Start again.
      const ws = this.ws;
      ws.close();
      this.lost(ws);
      return;
    }
    if (this.inBurst >= BURST) {
      this.clock.endBurst();
      this.onsync();
      this.inBurst = 0;
      this.burstTimer = this.setTimer(() => this.exchange(), INTERVAL * 1000);
      return;
    }
    this.inBurst += 1;
    this.pendingT0 = now;
    if (Number.isNaN(this.unanswered)) this.unanswered = now;
    this.send(sync(now));
    this.burstTimer = this.setTimer(() => this.exchange(), REPLY_TIMEOUT * 1000);
  }
}
