// Commands to the stage and their answers: each command gets an id, and its answer (done, refused and why, or no
// connection) comes back to whoever sent it.  No DOM: the send function and the timers are given.

import { command } from './protocol.js';

/** Seconds a command may wait for its answer before the page says it does not know. */
export const ANSWER_TIMEOUT = 6;

/**
 * @typedef {{ok: true, data: Record<string, any>} | {ok: false, code: string, message: string}} Answer
 */

/**
 * The words a person reads for a refusal code.
 * @param {string} code
 * @returns {string}
 */
export function refusalTitle(code) {
  switch (code) {
    case 'no_connection':
      return 'no connection';
    case 'lost':
      return 'connection lost: check';
    case 'timeout':
      return 'no answer: check';
    case 'forbidden':
      return 'not allowed';
    case 'unauthorized':
      return 'not signed in';
    case 'conflict':
      return 'changed meanwhile';
    case 'unavailable':
      return 'take log not answering';
    case 'not_found':
      return 'not found';
    default:
      return 'refused';
  }
}

export class Commander {
  /**
   * @param {(text: string) => boolean} send the connection's send (false: not connected)
   * @param {(fn: () => void, ms: number) => unknown} [setTimer]
   * @param {(id: unknown) => void} [clearTimer]
   */
  constructor(send, setTimer, clearTimer) {
    this.send = send;
    this.setTimer = setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = clearTimer ?? ((id) => clearTimeout(/** @type {number} */ (id)));
    this.next = 1;
    /** @type {Map<number, {resolve: (a: Answer) => void, timer: unknown, name: string}>} */
    this.pending = new Map();
  }

  /**
   * Send `name` with `args`; resolves with its answer (never rejects).
   * @param {string} name
   * @param {Record<string, unknown>} [args]
   * @returns {Promise<Answer>}
   */
  run(name, args) {
    const id = this.next++;
    return new Promise((resolve) => {
      if (!this.send(command(id, name, args))) {
        resolve({ ok: false, code: 'no_connection', message: 'not connected to the stage: nothing was sent' });
        return;
      }
      const timer = this.setTimer(() => {
        this.pending.delete(id);
        resolve({ ok: false, code: 'timeout', message: `no answer to ${name} within ${ANSWER_TIMEOUT} s: look before repeating it` });
      }, ANSWER_TIMEOUT * 1000);
      this.pending.set(id, { resolve, timer, name });
    });
  }

  /**
   * A result or error from the server: its command's answer.  True when it was one of ours.
   * @param {import('./protocol.js').ServerMessage} msg
   * @returns {boolean}
   */
  receive(msg) {
    if ((msg.type !== 'result' && msg.type !== 'error') || typeof msg.id !== 'number') return false;
    const p = this.pending.get(msg.id);
    if (p === undefined) return false;
    this.pending.delete(msg.id);
    this.clearTimer(p.timer);
    p.resolve(msg.type === 'result' ? { ok: true, data: msg.data } : { ok: false, code: msg.code, message: msg.message });
    return true;
  }

  /** The connection dropped: every command still waiting may or may not have been done. */
  lost() {
    for (const [id, p] of this.pending) {
      this.clearTimer(p.timer);
      p.resolve({ ok: false, code: 'lost', message: `the connection dropped before ${p.name} was answered: look before repeating it` });
      this.pending.delete(id);
    }
  }
}
