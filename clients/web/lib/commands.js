// Commands to the stage and their answers: each command gets an id, and its answer (done, refused and why, or no
// connection) comes back to whoever sent it.  No DOM: the send function and the timers are given.

import { command } from './protocol.js';

/** Seconds a command may wait for its answer before the page says it does not know. */
export const ANSWER_TIMEOUT = 6;

/**
 * @typedef {{ok: true, data: Record<string, any>} | {ok: false, code: string, message: string}} Answer
 */

/** Where a page's user arms a cue, by role: the way back from "no cue is armed". */
const ARM_HERE = Object.freeze(/** @type {Record<string, string>} */ ({
  conductor: 'touch a cue in the list to arm it',
  engineer: 'choose the cue under Armed',
}));

/**
 * A refusal's message with the way back on this page added where the stage's words cannot know it: "no cue is
 * armed" says where the cue is armed.
 * @param {string} message the stage's words
 * @param {string} role the page's
 * @returns {string}
 */
export function wayBack(message, role) {
  const here = ARM_HERE[role];
  return here !== undefined && message.startsWith('no cue is armed') ? `${message} — ${here}` : message;
}

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
    case 'master':
      return 'the master did not follow';
    default:
      return 'refused';
  }
}

/** Commands that go to the timecode master by MMC while the stage chases it (docs/mmc.md). */
export const MASTER_COMMANDS = Object.freeze(['play', 'from_top', 'stop', 'locate', 'pickup']);

/**
 * How long to wait for `name`'s answer, in seconds: a command for the timecode master also waits for its chase
 * to lock, up to the `lock_timeout` the transport's `mmc` names.
 * @param {string} name
 * @param {{to_master?: boolean, lock_timeout?: number} | null | undefined} mmc the transport state's `mmc`
 * @returns {number}
 */
export function answerTimeout(name, mmc) {
  return mmc?.to_master && MASTER_COMMANDS.includes(name) ? ANSWER_TIMEOUT + (mmc.lock_timeout ?? 0) : ANSWER_TIMEOUT;
}

/**
 * What a done answer says on the button: where the master's chase locked (or stands), else just done.
 * @param {Record<string, any>} data the result's data
 * @returns {string}
 */
export function doneText(data) {
  const m = data?.master;
  if (m === null || typeof m !== 'object' || typeof m.timecode !== 'string') return '✓ done';
  const bar = typeof m.bar === 'number' && m.bar >= 1 ? ` · bar ${m.bar}` : '';
  return m.rolling ? `✓ locked ${m.timecode}${bar}` : `✓ master at ${m.timecode}${bar}`;
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
   * @param {number} [seconds] how long to wait for the answer (ANSWER_TIMEOUT by default)
   * @returns {Promise<Answer>}
   */
  run(name, args, seconds = ANSWER_TIMEOUT) {
    const id = this.next++;
    return new Promise((resolve) => {
      if (!this.send(command(id, name, args))) {
        resolve({ ok: false, code: 'no_connection', message: 'not connected to the stage: nothing was sent' });
        return;
      }
      const timer = this.setTimer(() => {
        this.pending.delete(id);
        resolve({ ok: false, code: 'timeout', message: `no answer to ${name} within ${seconds} s: look before repeating it` });
      }, seconds * 1000);
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
