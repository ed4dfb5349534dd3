// What the conductor's and the engineer's pages share: sign-in, the link to the stage, commands with their answers
// on the button touched, rehearse/record (record behind a press-and-hold), transport and the bar keypad.

import { codeInHash, isPairingCode, keepToken, keptToken, redeem } from './auth.js';
import { showAnswer } from './answer.js';
import { Commander, MASTER_COMMANDS, answerTimeout, wayBack } from './commands.js';
import { StageConnection } from './connection.js';
import { DrawLoop } from './drawloop.js';
import { CueFollow } from './follow.js';
import { barBeat, press, shown } from './keypad.js';
import { CHANGED, ScreenState } from './state.js';
import { clockView } from './timesource.js';

/** @typedef {import('./commands.js').Answer} Answer */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */

/** The keypad's keys in order, three a row: 1–9, then delete, 0 and the beat key (the bar is typed). */
const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'back', '0', 'beat'];

/** The top of both pages: the musicians' view (cue, bar | beat, timecode, next hit, lane), mode and link. */
const TOP = `<header id="follow">
  <span id="follow-cue">–</span>
  <span><span id="follow-phase"></span><br><span id="follow-bar">–</span></span>
  <span id="tc-box"><span class="follow-label">TIMECODE <span id="clock-word"></span></span><br><span id="follow-tc">–</span></span>
  <span id="follow-hit"></span>
  <span id="mode-box"><span id="mode-word">REHEARSE</span><span id="link-word">connecting</span><span id="signed-as"></span>
    <button type="button" class="small open-signin">Sign in</button></span>
</header>
<stage-lane id="lane"></stage-lane>
<div id="access" hidden><span id="access-text"></span><button type="button" class="small open-signin">Sign in</button></div>`;

/**
 * The bar keypad both pages share (a pickup or a locate), added to the page once.
 * @returns {HTMLDialogElement}
 */
function keypadDialog() {
  const dialog = document.createElement('dialog');
  dialog.id = 'keypad';
  const line = (/** @type {string} */ id, /** @type {string} */ text) => {
    const d = document.createElement('div');
    d.id = id;
    d.textContent = text;
    return d;
  };
  const keys = document.createElement('div');
  keys.className = 'keys';
  for (const k of KEYS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.key = k;
    b.textContent = k === 'back' ? '⌫' : k === 'beat' ? '| beat' : k;
    if (k === 'back') b.setAttribute('aria-label', 'delete');
    keys.append(b);
  }
  const actions = document.createElement('div');
  actions.className = 'keypad-actions';
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.id = 'keypad-cancel';
  cancel.textContent = 'Cancel';
  const go = document.createElement('button');
  go.type = 'button';
  go.id = 'keypad-go';
  go.className = 'primary';
  go.textContent = 'Roll pickup';
  actions.append(cancel, go);
  dialog.append(line('keypad-title', 'Pickup from bar'), line('keypad-cue', ''), line('keypad-value', '–'), keys, actions);
  document.body.append(dialog);
  return dialog;
}

/** Milliseconds record must be held before it arms: long enough that a brush does not, short enough to do. */
export const HOLD_MS = 800;

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function $(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing`);
  return el;
}

/** @returns {Storage | null} */
function storage() {
  try {
    return localStorage;
  } catch {
    return null;
  }
}

export class ControlPage {
  /**
   * @param {string} role 'conductor' | 'engineer'
   * @param {readonly string[]} topics
   */
  constructor(role, topics) {
    document.body.insertAdjacentHTML('afterbegin', TOP); // static markup, written once for both pages
    this.role = role;
    this.token = keptToken(storage(), role);
    /** Why the controls are off ('' when signed in and connected). */
    this.why = '';
    /** The role the server granted (musician: read-only). */
    this.granted = '';
    /** @type {Set<string>} commands the server lets this page send */
    this.commands = new Set();
    this.refusedToken = false;
    this.state = new ScreenState();
    this.conn = new StageConnection({
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
      role: this.token ? role : 'musician',
      name: this.token ? `${role} page` : `${role} page (read-only)`,
      topics,
      token: this.token || undefined,
      now: () => performance.now() / 1000,
    });
    this.commander = new Commander((text) => this.conn.send(text));
    /** Told after every message applied, with what changed (CHANGED bits; 0 for other messages). */
    /** @type {(msg: ServerMessage, changed: number) => void} */
    this.onmessage = () => {};
    /** Told when the link or the sign-in changes. */
    this.onaccess = () => {};
    this.follow = new CueFollow(/** @type {any} */ ($('lane')), { bar: $('follow-bar'), phase: $('follow-phase'), cue: $('follow-cue'), hit: $('follow-hit'), tc: $('follow-tc') }, this.conn, this.state);
    /** The top's lane and timecode: drawn at every refresh while picture rolls, else when something changes. */
    this.loop = new DrawLoop((raf, steady) => this.follow.frame(raf, steady));
    this.follow.wake = () => this.loop.wake();
    this.conn.onmessage = (msg) => {
      this.loop.wake();
      this.receive(msg);
    };
    this.conn.onstate = (s) => {
      if (s !== 'open') this.commander.lost();
      this.access();
      this.loop.wake();
    };
    /** @type {Record<string, any>} */
    (globalThis).stagePage = this; // for the tests and the console
  }

  /** Connect; take a pairing code from the URL's fragment first (and out of the address). */
  async start() {
    const code = codeInHash(location.hash);
    let refused = '';
    if (code) {
      history.replaceState(null, '', location.pathname + location.search); // out of the address bar first
      refused = await this.signIn(code);
    }
    this.bindSignIn();
    if (refused) {
      // A spent or expired code (a QR scanned twice, say): say so where a new one would be typed.
      this.openSignIn();
      $('signin-why').textContent = `the code in the address did not sign this page in: ${refused}`;
    }
    this.bindControls();
    this.access();
    this.conn.start();
    this.loop.wake();
  }

  /** @param {ServerMessage} msg */
  receive(msg) {
    if (this.commander.receive(msg)) return;
    if (msg.type === 'error' && msg.code === 'unauthorized') {
      // The kept token is wrong (changed in [auth]?): forget it and carry on read-only.
      this.refusedToken = true;
      this.setToken('');
      return;
    }
    if (msg.type === 'welcome') {
      this.granted = msg.role;
      this.commands = new Set(/** @type {any} */ (msg).commands ?? []);
      void this.follow.loadCues().then(() => this.onmessage(msg, 0));
      this.access();
      return;
    }
    const changed = this.state.apply(msg, this.conn.clock.toServer(performance.now() / 1000));
    if (changed & CHANGED.SCHEDULE) this.state.schedule.prune(this.conn.clock.toServer(performance.now() / 1000));
    if (changed & (CHANGED.SESSION | CHANGED.TRANSPORT | CHANGED.TAKE)) this.showMode();
    if (changed & CHANGED.TRANSPORT) this.showClock();
    this.onmessage(msg, changed);
  }

  /**
   * Keep `token` (or forget it) and say hello again with it.
   * @param {string} token
   */
  setToken(token) {
    this.token = token;
    keepToken(storage(), this.role, token);
    this.conn.options.role = token ? this.role : 'musician';
    this.conn.options.name = token ? `${this.role} page` : `${this.role} page (read-only)`;
    this.conn.options.token = token || undefined;
    this.conn.ws?.close();
    this.access();
  }

  /**
   * A token or a pairing code typed in the sign-in.
   * @param {string} text
   * @returns {Promise<string>} '' when signed in, else why not
   */
  async signIn(text) {
    const t = text.trim();
    if (!t) return 'type the token or the six-digit code';
    if (!isPairingCode(t)) {
      this.refusedToken = false;
      this.setToken(t);
      return '';
    }
    const got = await redeem(t);
    if (!got.ok) return got.message;
    if (got.role !== this.role) return `that code hands over the ${got.role} role: open /${got.role} with it`;
    this.refusedToken = false;
    this.setToken(got.token);
    return '';
  }

  /** True when command `name` may be sent now. */
  /** @param {string} name */
  may(name) {
    return this.conn.state === 'open' && this.commands.has(name);
  }

  /** Say why the controls are off, and turn them off or on. */
  access() {
    const signed = this.granted === this.role;
    if (this.conn.state !== 'open') this.why = this.conn.attempts > 0 ? `No connection to the stage: reconnecting by itself (attempt ${this.conn.attempts})…` : 'Connecting to the stage…';
    else if (!signed) this.why = this.refusedToken ? `The stage refused this tablet's ${this.role} token: controls are off. Sign in again.` : `Not signed in as ${this.role}: read-only, controls are off. Sign in with the ${this.role} token or a code from the engineer's console.`;
    else this.why = '';
    const banner = $('access');
    banner.hidden = this.why === '';
    $('access-text').textContent = this.why;
    document.body.dataset.link = this.conn.state;
    document.body.dataset.signed = signed ? 'yes' : 'no';
    for (const b of document.querySelectorAll('[data-needs]')) {
      const need = /** @type {HTMLElement} */ (b).dataset.needs ?? '';
      /** @type {HTMLButtonElement} */ (b).disabled = !need.split(' ').some((n) => this.may(n));
    }
    $('signed-as').textContent = signed ? `${this.role} ✓` : 'read-only';
    $('link-word').textContent = this.conn.state === 'open' ? 'connected' : this.conn.state === 'lost' ? 'NO CONNECTION' : 'connecting';
    this.onaccess();
  }

  /** Where the timecode comes from, beside it: the stage's clock, or MTC or LTC and whether it is locked. */
  showClock() {
    const view = clockView(this.state.transport);
    const word = $('clock-word');
    word.textContent = `· ${view.word}`;
    word.dataset.ok = view.ok === null ? '' : view.ok ? 'yes' : 'no';
    word.title = view.detail;
  }

  /** The mode and rolling state on the whole page: record is unmistakable. */
  showMode() {
    const s = this.state.session;
    const record = s.mode === 'record';
    const rolling = Boolean(this.state.transport.rolling);
    document.body.dataset.mode = record ? 'record' : 'rehearse';
    document.body.dataset.rolling = rolling ? 'yes' : 'no';
    const take = this.rollingTake();
    const recordLabel = /** @type {HTMLElement} */ ($('record').firstElementChild);
    recordLabel.textContent = record ? '● RECORD ARMED' : '● HOLD FOR RECORD';
    $('mode-word').textContent = record ? (rolling && take ? `● RECORDING ${take.label ?? ''}` : 'RECORD') : rolling ? 'REHEARSING' : 'REHEARSE';
  }

  /**
   * Run a command and show its answer on `target`.
   * @param {HTMLElement} target
   * @param {string} name
   * @param {Record<string, unknown>} [args]
   * @returns {Promise<Answer>}
   */
  async act(target, name, args) {
    const mmc = this.state.transport.mmc;
    const master = Boolean(mmc?.to_master) && MASTER_COMMANDS.includes(name);
    showAnswer(target, { ok: null, message: master ? 'master…' : '…' }); // the master locates and rolls first
    const answer = await this.commander.run(name, args, answerTimeout(name, mmc));
    showAnswer(target, answer.ok || answer.code !== 'refused' ? answer : { ...answer, message: wayBack(answer.message, this.role) });
    return answer;
  }

  /**
   * The take being recorded now (the latest take event's row while picture rolls and it has no end), or null.
   * @returns {Record<string, any> | null}
   */
  rollingTake() {
    const t = this.state.take;
    return this.state.transport.rolling && t && !t.ended_at && !t.tc_out ? t : null;
  }

  /** The armed cue's summary, if any. */
  armedCue() {
    const id = this.state.armed;
    return this.follow.cues.find((c) => c.id === id) ?? null;
  }

  /** The sign-in, empty, with nothing said yet. */
  openSignIn() {
    const input = /** @type {HTMLInputElement} */ ($('signin-input'));
    input.value = '';
    $('signin-why').textContent = '';
    /** @type {HTMLDialogElement} */ ($('signin')).showModal();
    input.focus();
  }

  bindSignIn() {
    const dialog = /** @type {HTMLDialogElement} */ ($('signin'));
    const input = /** @type {HTMLInputElement} */ ($('signin-input'));
    const why = $('signin-why');
    for (const b of document.querySelectorAll('.open-signin')) b.addEventListener('click', () => this.openSignIn());
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const err = await this.signIn(input.value);
      if (err) why.textContent = err;
      else dialog.close();
    });
    $('signin-cancel').addEventListener('click', () => dialog.close());
    $('signout').addEventListener('click', () => {
      this.setToken('');
      dialog.close();
    });
  }

  bindControls() {
    const on = (/** @type {string} */ id, /** @type {(el: HTMLElement) => void} */ fn) => {
      const el = document.getElementById(id);
      if (el !== null) el.addEventListener('click', () => fn(el));
    };
    on('rehearse', (el) => void this.act(el, 'mode', { mode: 'rehearse' }));
    on('play', (el) => void this.act(el, 'play'));
    on('stop', (el) => void this.act(el, 'stop'));
    on('top', (el) => void this.fromTop(el));
    on('pickup', (el) => this.keypad(el, 'pickup'));
    on('locate', (el) => this.keypad(el, 'locate'));
    this.bindHold(/** @type {HTMLButtonElement} */ ($('record')));
    this.bindKeypad();
  }

  /** @param {HTMLElement} el */
  async fromTop(el) {
    if (this.commands.has('from_top')) {
      await this.act(el, 'from_top');
      return;
    }
    const cue = this.armedCue();
    if (cue === null) {
      showAnswer(el, { ok: false, code: 'refused', message: 'no cue is armed: arm the cue first' });
      return;
    }
    // Without the stage's own from_top: one bar before the count-off (room for the streamer into its first
    // warning click); a free-timing cue from its start.
    const where = cue.bars ? { bar: -(cue.countoff ?? 0) } : { timecode: cue.start };
    const located = await this.act(el, 'locate', where);
    if (located.ok) await this.act(el, 'play');
  }

  /**
   * Record needs a press held for HOLD_MS: the button fills as it is held, and a short touch says so.
   * @param {HTMLButtonElement} button
   */
  bindHold(button) {
    /** @type {ReturnType<typeof setTimeout> | null} */
    let timer = null;
    const cancel = () => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      delete button.dataset.holding;
    };
    button.addEventListener('pointerdown', (ev) => {
      if (button.disabled) return;
      ev.preventDefault();
      button.setPointerCapture?.(ev.pointerId);
      button.dataset.holding = '';
      timer = setTimeout(() => {
        timer = null;
        delete button.dataset.holding;
        void this.act(button, 'mode', { mode: 'record' });
      }, HOLD_MS);
    });
    button.addEventListener('pointerup', () => {
      if (timer !== null) showAnswer(button, { ok: null, message: 'hold to arm record', hint: true });
      cancel();
    });
    button.addEventListener('pointercancel', cancel);
    button.addEventListener('pointerleave', cancel);
    button.addEventListener('contextmenu', (ev) => ev.preventDefault());
  }

  /**
   * The bar keypad, for a pickup or a locate.
   * @param {HTMLElement} from the button that opened it (its answer shows there)
   * @param {'pickup' | 'locate'} what
   */
  keypad(from, what) {
    const dialog = /** @type {HTMLDialogElement} */ ($('keypad'));
    dialog.dataset.what = what;
    this.keypadFrom = from;
    this.keypadValue = '';
    $('keypad-title').textContent = what === 'pickup' ? 'Pickup from bar' : 'Locate to bar';
    $('keypad-go').textContent = what === 'pickup' ? 'Roll pickup' : 'Locate';
    this.showKeypad();
    dialog.showModal();
  }

  showKeypad() {
    const cue = this.armedCue();
    $('keypad-value').textContent = shown(this.keypadValue);
    $('keypad-cue').textContent = cue === null ? 'no cue armed' : `${cue.id}${cue.bars ? `: bars 1–${cue.bars}` : ''}`;
    /** @type {HTMLButtonElement} */ ($('keypad-go')).disabled = barBeat(this.keypadValue) === null;
  }

  bindKeypad() {
    this.keypadValue = '';
    /** @type {HTMLElement | null} */
    this.keypadFrom = null;
    const dialog = keypadDialog();
    for (const key of dialog.querySelectorAll('[data-key]')) {
      key.addEventListener('click', () => {
        const k = /** @type {HTMLElement} */ (key).dataset.key ?? '';
        this.keypadValue = press(this.keypadValue, k);
        this.showKeypad();
      });
    }
    $('keypad-cancel').addEventListener('click', () => dialog.close());
    $('keypad-go').addEventListener('click', () => {
      const at = barBeat(this.keypadValue);
      const from = this.keypadFrom ?? $('keypad-go');
      dialog.close();
      if (at === null) return;
      if (dialog.dataset.what === 'pickup') void this.act(from, 'play', { pickup_bar: at.bar, pickup_beat: at.beat });
      else void this.act(from, 'locate', { bar: at.bar, beat: at.beat });
    });
  }
}
