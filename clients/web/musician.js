// The musicians' screen (/musician): wires the pure modules in lib/ to the DOM, the lane and the WebSocket.
// Every frame is drawn for the moment it will be on screen: the rAF time, plus one frame (the compositor shows
// what is drawn now at the next refresh), plus the screen's own latency offset.

import { position } from './lib/anchor.js';
import { StageConnection } from './lib/connection.js';
import { ClockQuality } from './lib/clock.js';
import { MusicNow, clockText, nextChangeText, nextHitText, tempoText } from './lib/music.js';
import { PictureFollower } from './lib/picture-follow.js';
import { DrawLoop } from './lib/drawloop.js';
import { SCREEN_TOPICS, drawn } from './lib/protocol.js';
import { LaneView, endShown } from './lib/schedule.js';
import { $, CueBook, refreshInterval, warningOf, warningWords } from './lib/screen.js';
import { loadSettings, storeSettings, withSetting } from './lib/settings.js';
import { CHANGED, ScreenState } from './lib/state.js';
import { clockView } from './lib/timesource.js';
import { keepAwake, stayAwake } from './lib/wakelock.js';
import './lib/stage-lane-define.js';
import './lib/stage-picture-define.js';

/** @typedef {import('./lib/settings.js').Settings} Settings */
/** @typedef {import('./lib/stage-lane.js').StageLane} StageLane */
/** @typedef {import('./lib/stage-picture.js').StagePicture} StagePicture */
/** @typedef {import('./lib/screen.js').CueSummary} CueSummary */
/** @typedef {import('./lib/music.js').CueMusic} CueMusic */

const STORE_KEY = 'stage.musician';
/** Seconds the calibration flash lasts from each click. */
const FLASH = 0.06;

const el = {
  cueId: $('cue-id'), cueTitle: $('cue-title'), mode: $('mode'), takeNo: $('take-no'), link: $('link'),
  sync: $('sync'), clock: $('clock'), screenName: $('screen-name'), phaseLabel: $('phase-label'), bar: $('bar'), sep: $('sep'),
  beat: $('beat'), sub: $('sub'), tempo: $('tempo'), change: $('change'), hit: $('hit'),
  warning: $('warning'), warningTitle: $('warning-title'), warningText: $('warning-text'),
  calibration: $('calibration'), offsetValue: $('offset-value'), sound: $('sound'),
  lane: /** @type {StageLane} */ ($('lane')),
  picture: /** @type {StagePicture} */ ($('picture')),
  dialog: /** @type {HTMLDialogElement} */ ($('settings')),
};

/** Text last written to each element: the DOM is touched only when a text changes. */
const shown = new WeakMap();

/**
 * @param {HTMLElement} node
 * @param {string} text
 */
function setText(node, text) {
  if (shown.get(node) === text) return;
  shown.set(node, text);
  node.textContent = text;
}

/**
 * @param {HTMLElement} node
 * @param {string} name
 * @param {string} value
 */
function setData(node, name, value) {
  if (node.dataset[name] !== value) node.dataset[name] = value;
}

// -- settings ----------------------------------------------------------------------------------------------

/** @type {Settings} */
let settings = loadSettings(location.search, safeGet(STORE_KEY));

/**
 * @param {string} key
 * @returns {string | null}
 */
function safeGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function applySettings() {
  setData(document.body, 'size', settings.size);
  el.lane.setAttribute('direction', settings.direction);
  el.picture.setAttribute('direction', settings.direction);
  el.picture.hidden = !settings.picture;
  if (settings.picture) document.body.dataset.picture = '';
  else delete document.body.dataset.picture;
  setText(el.screenName, settings.name);
  setText(el.offsetValue, `${settings.offsetMs > 0 ? '+' : ''}${settings.offsetMs} ms`);
  el.calibration.hidden = !settings.calibrate;
  if (settings.calibrate) document.body.dataset.calibrate = '';
  else delete document.body.dataset.calibrate;
  try {
    localStorage.setItem(STORE_KEY, storeSettings(settings));
  } catch {
    // private mode: the URL still carries the settings
  }
  loop.wake(); // direction, offset, calibration: drawn at once, rolling or not
}

// -- the link and what it tells ----------------------------------------------------------------------------

const now = () => performance.now() / 1000;
const state = new ScreenState();
const conn = new StageConnection({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
  role: 'musician',
  name: settings.name,
  topics: SCREEN_TOPICS,
  now,
});

const book = new CueBook();
/** The cut above the lane (`?picture=1`): loaded again when the session's picture revision changes. */
const pictures = settings.picture ? new PictureFollower(el.picture) : null;
/** The session's plan the cues' music was loaded under. */
/** @type {unknown} */
let plan;
/** Keys whose end this screen has reported (cleared when the schedule is voided). */
const reported = new Set();

conn.onmessage = (/** @type {import('./lib/protocol.js').ServerMessage} */ msg) => {
  loop.wake();
  if (msg.type === 'welcome') {
    void book.reload().then(() => loop.wake());
    return;
  }
  const serverNow = conn.clock.toServer(now());
  const changed = state.apply(msg, serverNow);
  if (debug !== null && changed & CHANGED.TRANSPORT) debug.transports.push({ at: performance.now(), anchor: state.anchor });
  if (changed & CHANGED.DROPPED) reported.clear();
  if (changed & CHANGED.SCHEDULE) state.schedule.prune(serverNow);
  if (changed & (CHANGED.SESSION | CHANGED.TAKE | CHANGED.TRANSPORT)) showTake();
  if (changed & CHANGED.TRANSPORT) showClock();
  if (changed & CHANGED.TRANSPORT && pictures !== null) {
    el.picture.prepare(serverNow + frameDt + settings.offsetMs / 1000, state.anchor);
  }
  if (changed & CHANGED.SESSION && state.session.plan !== plan) {
    // A pickup cued up or a new cue sheet: the clicks and cues to count from are new.
    plan = state.session.plan;
    void book.reload().then(() => loop.wake());
  }
  if (changed & CHANGED.SESSION) pictures?.session(state.session.picture);
};
conn.onstate = () => {
  showHealth();
  loop.wake();
};
conn.onsync = () => {
  showHealth();
  loop.wake();
};

function showTake() {
  const record = state.session.mode === 'record';
  setData(document.body, 'mode', record ? 'record' : 'rehearse');
  setText(el.mode, record ? 'RECORD' : 'REHEARSE');
  // The take rolling now: the session's, else the latest take event's while it has not ended.
  const latest = state.take !== null && !state.take.ended_at ? state.take : null;
  const take = state.transport.rolling ? (state.session.take ?? latest) : null;
  const next = state.session.next_take;
  let text = '';
  if (take !== null && typeof take.take === 'number') text = `take ${take.take}`;
  else if (record && typeof next === 'number') text = `next take ${next}`;
  setText(el.takeNo, text);
}

/** Where the stage's timecode comes from (its own clock, or MTC or LTC chased) and whether it is locked. */
function showClock() {
  const view = clockView(state.transport);
  setText(el.clock, view.word);
  setData(el.clock, 'ok', view.ok === null ? '' : view.ok ? 'yes' : 'no');
  el.clock.title = view.detail;
}

const quality = new ClockQuality();

function showHealth() {
  const q = conn.clock.quality(now(), quality);
  setData(el.link, 'state', conn.state);
  setText(el.link, conn.state === 'open' ? 'connected' : conn.state === 'lost' ? 'reconnecting' : 'connecting');
  setText(el.sync, q.delay === Infinity ? 'sync –' : `sync ±${(q.delay * 500).toFixed(1)} ms`);
  // The details, for whoever looks closer: the offset to the stage's clock, the round trip, the drift.
  el.sync.title = q.delay === Infinity ? 'not synchronised'
    : `offset ${q.offset.toFixed(6)} s, best round trip ${(q.delay * 1000).toFixed(2)} ms, drift ${(q.drift * 1e6).toFixed(1)} ppm`;
}

// -- the frame ----------------------------------------------------------------------------------------------

const view = new LaneView();
const idle = new LaneView();
const nowMusic = new MusicNow();
let frameDt = 1 / 60;
let lastRaf = 0;
/** @type {'' | 'lost' | 'clock' | 'engine'} */
let warningKind = 'lost';
let warningAttempts = -1;
let warningReason = '';

/**
 * The cue to show at picture position `p`: the one picture is in, else the armed one, else the next one.
 * @param {number} p
 * @returns {CueSummary | null}
 */
function cueAt(p) {
  return book.cueAt(p, state.armed);
}

/**
 * The full-screen warning: `kind` '' hides it; its text is made only when what it says changes.
 * @param {'' | 'lost' | 'clock' | 'engine'} kind
 * @param {number} attempts
 * @param {string} reason
 */
function warn(kind, attempts, reason) {
  if (kind === warningKind && attempts === warningAttempts && reason === warningReason) return;
  warningKind = kind;
  warningAttempts = attempts;
  warningReason = reason;
  el.warning.hidden = kind === '';
  if (kind === '') return;
  const [title, text] = warningWords(kind, attempts, reason);
  setText(el.warningTitle, title);
  setText(el.warningText, text);
}

/** The debug hook (`?debug=1`): what each frame drew, for tests and benchmarks. */
const debug = settings.debug
  ? {
      /** @type {{raf: number, t: number, dt: number, p: number, heads: {key: string, progress: number}[], script: number, warning: boolean, flash: boolean}[]} */
      frames: [],
      /** @type {{key: string, kind: string, due: number, shown: number, raf: number}[]} */
      reports: [],
      /** @type {{at: number, anchor: import('./lib/anchor.js').Anchor}[]} when each transport change was applied */
      transports: [],
      clock: conn.clock,
      state,
    }
  : null;
if (debug !== null) /** @type {any} */ (globalThis).stageDebug = debug;

/**
 * Draw the frame for rAF time `raf`; true while something on the screen moves (the next refresh is drawn too).
 * @param {number} raf
 * @param {boolean} steady the frame before was the refresh before this one
 * @returns {boolean}
 */
function frame(raf, steady) {
  const begin = performance.now();
  if (lastRaf > 0 && steady) {
    const d = (raf - lastRaf) / 1000;
    frameDt = refreshInterval(frameDt, d);
  }
  lastRaf = raf;
  const q = conn.clock.quality(now(), quality);
  const w = warningOf(conn.state, q, state.transport.engine);
  if (w.kind !== '') {
    warn(w.kind, w.kind === 'lost' ? conn.attempts : 0, w.reason);
    el.lane.blank();
    if (pictures !== null) el.picture.blank();
    if (debug !== null) debug.frames.push({ raf, t: NaN, dt: frameDt, p: NaN, heads: [], script: performance.now() - begin, warning: true, flash: false });
    return false;
  }
  warn('', 0, '');
  // The server time at which this frame's light leaves the screen.
  const t = conn.clock.toServer((raf + frameDt * 1000 + settings.offsetMs) / 1000);
  const anchor = state.anchor;
  state.schedule.frame(t, frameDt, view);
  const p = position(anchor, t);
  const summary = cueAt(p);
  const m = summary !== null ? book.musicOf(summary.id) : undefined;
  if (m !== undefined) m.at(p, nowMusic);
  if (pictures !== null) el.picture.render(t, anchor, view, pictures.texts(settings, summary, m, nowMusic, state));
  const flash = settings.calibrate && m !== undefined && nowMusic.sinceClick < FLASH && anchor.speed > 0;
  if (settings.calibrate) {
    // The calibration pattern: nothing but a flash of the whole lane on every click.
    el.lane.render(idle, null, flash);
  } else {
    el.lane.render(view, m !== undefined ? nowMusic : null);
  }
  report(t, q.delay, raf);
  showText(summary, m);
  if (debug !== null) {
    const heads = [];
    for (let i = 0; i < view.count; i++) {
      const d = view.drawn[i];
      if (d.item !== null && d.item.kind === 'streamer') heads.push({ key: d.item.key, progress: d.progress });
    }
    debug.frames.push({ raf, t, dt: frameDt, p, heads, script: performance.now() - begin, warning: false, flash });
    if (debug.frames.length > 2000) debug.frames.splice(0, 1000);
  }
  // Stopped, nothing moves: the page rests until something changes (the picture above the lane keeps drawing).
  return anchor.speed !== 0 || pictures !== null;
}

const loop = new DrawLoop(frame);
book.loaded = () => loop.wake();

/**
 * Tell the server about every streamer end and punch this frame is the first to show.
 * @param {number} t
 * @param {number} delay
 * @param {number} raf
 */
function report(t, delay, raf) {
  const anchor = state.anchor;
  for (let i = 0; i < view.count; i++) {
    const item = view.drawn[i].item;
    if (item === null || reported.has(item.key) || !endShown(item, anchor, t, frameDt)) continue;
    reported.add(item.key);
    const due = anchor.t0 + (item.position + item.length - anchor.p0) / anchor.speed - item.lead;
    conn.send(drawn(item.key, item.kind, due, t, delay, frameDt));
    if (debug !== null) debug.reports.push({ key: item.key, kind: item.kind, due, shown: t, raf });
  }
}

let shownTempo = -2;
let shownPhase = '';
let shownBig = NaN;
let shownRolling = false;
let shownHit = -2;
let shownBarsToHit = NaN;
/** @type {CueSummary | null} */
let shownSummary = null;
/** @type {CueMusic | undefined} */
let shownMusic;

/**
 * The DOM text: written only when what it says changes.
 * @param {CueSummary | null} summary
 * @param {CueMusic | undefined} m
 */
function showText(summary, m) {
  if (summary !== shownSummary || m !== shownMusic) {
    // Another cue, or its music just loaded: every line is written afresh.
    shownSummary = summary;
    shownMusic = m;
    shownTempo = -3;
    shownHit = -3;
    shownPhase = '';
    setText(el.cueId, summary?.id ?? '–');
    setText(el.cueTitle, summary?.title ?? '');
  }
  if (m === undefined) {
    if (shownPhase !== 'none') {
      shownPhase = 'none';
      setData(document.body, 'phase', 'before');
      setText(el.phaseLabel, summary === null ? 'NO CUE' : 'LOADING');
      setText(el.bar, '–');
      setText(el.sep, '');
      setText(el.beat, '');
      setText(el.sub, '');
    }
    return;
  }
  const n = nowMusic;
  // What the big numbers say, as numbers: their strings are made only when one of them changes.
  const big = n.phase === 'music' ? n.bar * 1000 + n.beat : n.phase === 'countoff' ? n.countdown
    : n.phase === 'free' ? Math.floor(n.seconds * 10 + 1e-6) : 0;
  const rolling = state.anchor.speed > 0;
  if (n.phase !== shownPhase || big !== shownBig || rolling !== shownRolling) {
    shownPhase = n.phase;
    shownBig = big;
    shownRolling = rolling;
    showBig(summary, n);
  }
  const tempos = m.cue.tempos;
  const ti = n.tempo >= 0 ? n.tempo : tempos.length ? -1 : -2;
  if (ti !== shownTempo) {
    shownTempo = ti;
    setText(el.tempo, m.cue.free ? 'free timing' : tempoText(tempos[Math.max(0, ti)]));
    setText(el.change, m.cue.free ? '—' : nextChangeText(tempos, Math.max(0, ti)) || 'none');
  }
  const bars = m.barsToHit(n);
  // Bars to go change the text; within the hit's bar (and in free timing) the seconds count down in tenths.
  const step = bars !== null && bars > 0 ? bars : -1 - Math.floor(n.toHit * 10);
  if (n.hit !== shownHit || step !== shownBarsToHit) {
    shownHit = n.hit;
    shownBarsToHit = step;
    setText(el.hit, n.hit >= 0 ? nextHitText(m, n) : 'none');
  }
}

/**
 * The big numbers and the lines around them.
 * @param {CueSummary | null} summary
 * @param {MusicNow} n
 */
function showBig(summary, n) {
  setData(document.body, 'phase', n.phase);
  switch (n.phase) {
    case 'music':
      setText(el.phaseLabel, 'BAR | BEAT');
      setText(el.bar, String(n.bar));
      setText(el.sep, '|');
      setText(el.beat, String(n.beat));
      setText(el.sub, '');
      break;
    case 'countoff':
      setText(el.phaseLabel, n.into === 1 ? 'COUNT-OFF' : 'COUNT-IN');
      setText(el.bar, String(n.countdown));
      setText(el.sep, '');
      setText(el.beat, '');
      setText(el.sub, `${n.countdown === 1 ? 'click' : 'clicks'} into bar ${n.into}`);
      break;
    case 'free':
      setText(el.phaseLabel, 'FREE TIMING');
      setText(el.bar, clockText(n.seconds));
      setText(el.sep, '');
      setText(el.beat, '');
      setText(el.sub, 'seconds since the start');
      break;
    case 'before':
      setText(el.phaseLabel, state.anchor.speed > 0 ? 'COMING UP' : 'STOPPED');
      setText(el.bar, '–');
      setText(el.sep, '');
      setText(el.beat, '');
      setText(el.sub, summary !== null ? `${summary.id} starts ${summary.start}` : '');
      break;
    default:
      setText(el.phaseLabel, 'END OF CUE');
      setText(el.bar, '–');
      setText(el.sep, '');
      setText(el.beat, '');
      setText(el.sub, '');
  }
}

// -- controls ----------------------------------------------------------------------------------------------

$('full').addEventListener('click', () => {
  if (document.fullscreenElement) void document.exitFullscreen();
  else void document.documentElement.requestFullscreen?.().catch(() => {});
  void keepAwake();
});

$('open-settings').addEventListener('click', () => {
  const f = /** @type {HTMLFormElement} */ (el.dialog.querySelector('form'));
  /** @type {HTMLInputElement} */ (f.elements.namedItem('name')).value = settings.name;
  /** @type {HTMLInputElement} */ (f.elements.namedItem('offsetMs')).value = String(settings.offsetMs);
  /** @type {HTMLSelectElement} */ (f.elements.namedItem('direction')).value = settings.direction;
  /** @type {HTMLSelectElement} */ (f.elements.namedItem('size')).value = settings.size;
  /** @type {HTMLInputElement} */ (f.elements.namedItem('calibrate')).checked = settings.calibrate;
  el.dialog.showModal();
});

el.dialog.addEventListener('change', (ev) => {
  const input = /** @type {HTMLInputElement} */ (ev.target);
  const key = /** @type {keyof Settings} */ (input.name);
  const before = settings.name;
  settings = withSetting(settings, key, input.type === 'checkbox' ? (input.checked ? '1' : '0') : input.value);
  applySettings();
  if (settings.name !== before) {
    conn.options.name = settings.name;
    conn.ws?.close(); // say hello again under the new name
  }
});

/** @param {number} delta */
function nudge(delta) {
  settings = withSetting(settings, 'offsetMs', String(Math.max(-500, Math.min(500, settings.offsetMs + delta))));
  applySettings();
}
$('minus').addEventListener('click', () => nudge(-10));
$('plus').addEventListener('click', () => nudge(10));

// -- calibration sound: the click from the page, scheduled ahead on the audio clock ---------------------------

/** @type {AudioContext | null} */
let audio = null;
let nextSound = -Infinity;

el.sound.addEventListener('click', () => {
  if (audio === null) {
    audio = new AudioContext();
    setText(el.sound, 'Click sound: on');
    el.sound.setAttribute('aria-pressed', 'true');
    setInterval(scheduleSound, 50);
  } else {
    void audio.close();
    audio = null;
    setText(el.sound, 'Click sound: off');
    el.sound.setAttribute('aria-pressed', 'false');
  }
});

/** Queue the clicks of the next 150 ms on the audio clock, where the picture's clicks fall. */
function scheduleSound() {
  if (audio === null || !conn.clock.quality(now(), quality).trusted) return;
  const anchor = state.anchor;
  const summary = cueAt(position(anchor, conn.clock.toServer(now())));
  const m = summary !== null ? book.music.get(summary.id) : undefined;
  if (m === undefined || anchor.speed <= 0) return;
  // Safari has no getOutputTimestamp: the context's own clock, read now, stands in.
  const ts = typeof audio.getOutputTimestamp === 'function' ? audio.getOutputTimestamp() : {};
  const pageNow = (ts.performanceTime ?? performance.now()) / 1000;
  const audioNow = ts.contextTime ?? audio.currentTime;
  for (const c of m.cue.clicks) {
    const server = anchor.t0 + (m.cue.downbeat + c.time - anchor.p0) / anchor.speed;
    // Heard when picture shows it: the page's latency offset applies to sound as to light.
    const at = conn.clock.toClient(server) - settings.offsetMs / 1000;
    if (at <= nextSound || at < pageNow || at > pageNow + 0.15) continue;
    nextSound = at;
    const when = audioNow + (at - pageNow);
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = c.kind === 'accent' ? 1760 : 1320;
    gain.gain.setValueAtTime(0.6, when);
    gain.gain.exponentialRampToValueAtTime(0.001, when + 0.04);
    osc.connect(gain).connect(audio.destination);
    osc.start(when);
    osc.stop(when + 0.05);
  }
}

applySettings();
showHealth();
stayAwake();
conn.start();
loop.wake();
