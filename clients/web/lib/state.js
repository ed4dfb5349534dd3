// What a screen knows of the stage, from /ws messages: transport, session, the latest take, the schedule ahead.
// Pure: apply a message with the server time it is applied at; read the fields.

import { STOPPED, parseAnchor } from './anchor.js';
import { Schedule } from './schedule.js';

/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./anchor.js').Anchor} Anchor */

/** What changed when a message was applied (bits). */
export const CHANGED = Object.freeze({ TRANSPORT: 1, SESSION: 2, TAKE: 4, SCHEDULE: 8, CUE: 16, DROPPED: 32 });

export class ScreenState {
  constructor() {
    this.schedule = new Schedule();
    /** @type {Record<string, any>} the transport topic's latest data */
    this.transport = {};
    /** @type {Record<string, any>} the session topic's latest data */
    this.session = {};
    /** @type {Record<string, any> | null} the latest take row */
    this.take = null;
    /** The cue the server says picture is in (null: none). */
    /** @type {string | null} */
    this.cue = null;
    this.seq = 0;
  }

  /** @returns {Anchor} */
  get anchor() {
    return this.schedule.anchor;
  }

  /** @returns {boolean} */
  get recording() {
    return this.session.mode === 'record' && Boolean(this.session.rolling ?? this.transport.rolling);
  }

  /** @returns {string | null} */
  get armed() {
    const a = this.session.armed ?? this.transport.armed;
    return typeof a === 'string' ? a : null;
  }

  /**
   * Apply one message at server time `now`; what changed (CHANGED bits).
   * @param {ServerMessage} msg
   * @param {number} now
   * @returns {number}
   */
  apply(msg, now) {
    if (msg.type === 'snapshot') {
      const s = msg.state;
      this.transport = s.transport ?? {};
      this.session = s.session ?? {};
      this.take = s.take?.take ?? this.session.take ?? null;
      this.cue = typeof this.transport.cue === 'string' ? this.transport.cue : null;
      this.seq = msg.seq;
      this.schedule.load(parseAnchor(this.transport.anchor) ?? STOPPED, msg.schedule);
      return CHANGED.TRANSPORT | CHANGED.SESSION | CHANGED.TAKE | CHANGED.SCHEDULE | CHANGED.CUE | CHANGED.DROPPED;
    }
    if (msg.type !== 'event') return 0;
    this.seq = msg.seq;
    const d = msg.data;
    switch (msg.topic) {
      case 'transport': {
        this.transport = d;
        const cue = typeof d.cue === 'string' ? d.cue : null;
        const dropped = this.schedule.transport(parseAnchor(d.anchor) ?? STOPPED, now);
        let out = CHANGED.TRANSPORT | (dropped ? CHANGED.DROPPED : 0);
        if (cue !== this.cue) {
          this.cue = cue;
          out |= CHANGED.CUE;
        }
        return out;
      }
      case 'schedule':
        this.schedule.announce(d);
        return CHANGED.SCHEDULE;
      case 'session':
        this.session = { ...this.session, ...d };
        if ('take' in d) this.take = d.take ?? this.take;
        return CHANGED.SESSION;
      case 'take':
        this.take = d.take ?? null;
        return CHANGED.TAKE;
      case 'cue':
        this.cue = d.event === 'entered' && typeof d.cue === 'string' ? d.cue : null;
        return CHANGED.CUE;
      default:
        return 0;
    }
  }
}
