// The picture page (/picture): the cut on the whole window with the streamers, punches and flutters drawn on it,
// for the projector and the conductor's monitor.  Read-only, no sign-in.  Every refresh draws the frame picture is
// at when that refresh reaches the screen: the rAF time, plus one refresh (the compositor shows what is drawn now
// at the next one), plus the screen's own latency offset, on the clock synced with the stage — as /musician.

import { position } from './lib/anchor.js';
import { ClockQuality } from './lib/clock.js';
import { StageConnection } from './lib/connection.js';
import { MusicNow } from './lib/music.js';
import { PictureFollower } from './lib/picture-follow.js';
import { SCREEN_TOPICS } from './lib/protocol.js';
import { LaneView } from './lib/schedule.js';
import { $, CueBook, refreshInterval, warningOf, warningWords } from './lib/screen.js';
import { loadSettings, storeSettings } from './lib/settings.js';
import { CHANGED, ScreenState } from './lib/state.js';
import { stayAwake } from './lib/wakelock.js';
import './lib/stage-picture-define.js';

/** @typedef {import('./lib/stage-picture.js').StagePicture} StagePicture */

const STORE_KEY = 'stage.picture';
/** Seconds the status line stays after the mouse last moved. */
const AWAKE = 3;

const el = {
  picture: /** @type {StagePicture} */ ($('picture')),
  link: $('link'), sync: $('sync'), screenName: $('screen-name'),
  warning: $('warning'), warningTitle: $('warning-title'), warningText: $('warning-text'),
};

let stored = null;
try {
  stored = localStorage.getItem(STORE_KEY);
} catch {
  // private mode: the URL carries the settings
}
const settings = loadSettings(location.search, stored);
try {
  localStorage.setItem(STORE_KEY, storeSettings(settings));
} catch {
  // as above
}
el.picture.setAttribute('direction', settings.direction);
el.screenName.textContent = settings.name;

const now = () => performance.now() / 1000;
const state = new ScreenState();
const conn = new StageConnection({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
  role: 'musician',
  name: settings.name || 'picture',
  topics: SCREEN_TOPICS,
  now,
});
const book = new CueBook();
const follower = new PictureFollower(el.picture);
/** @type {unknown} */
let plan;

/** The debug hook (`?debug=1`): when each transport change was applied, and the decoder's figures. */
const debug = settings.debug
  ? {
      /** @type {{at: number, anchor: import('./lib/anchor.js').Anchor}[]} */
      transports: [],
      /** @type {{raf: number, t: number, dt: number}[]} each refresh's moment, as the page reckons it */
      frames: [],
      get stats() {
        return el.picture.stats;
      },
      clock: conn.clock,
    }
  : null;
if (debug !== null) /** @type {any} */ (globalThis).stageDebug = debug;

conn.onmessage = (/** @type {import('./lib/protocol.js').ServerMessage} */ msg) => {
  if (msg.type === 'welcome') {
    void book.reload();
    return;
  }
  const serverNow = conn.clock.toServer(now());
  const changed = state.apply(msg, serverNow);
  if (debug !== null && changed & CHANGED.TRANSPORT) debug.transports.push({ at: performance.now(), anchor: state.anchor });
  if (changed & CHANGED.TRANSPORT) el.picture.prepare(serverNow + frameDt + settings.offsetMs / 1000, state.anchor);
  if (changed & CHANGED.SCHEDULE) state.schedule.prune(serverNow);
  if (changed & CHANGED.SESSION) {
    follower.session(state.session.picture);
    if (state.session.plan !== plan) {
      plan = state.session.plan;
      void book.reload();
    }
  }
};

const quality = new ClockQuality();

function showHealth() {
  const q = conn.clock.quality(now(), quality);
  el.link.dataset.state = conn.state;
  el.link.textContent = conn.state === 'open' ? 'connected' : conn.state === 'lost' ? 'reconnecting' : 'connecting';
  el.sync.textContent = q.delay === Infinity ? 'sync –' : `sync ±${(q.delay * 500).toFixed(1)} ms`;
}
conn.onstate = () => showHealth();
conn.onsync = () => showHealth();

let warningKey = '';

/**
 * The whole-screen warning ('' hides it), rewritten only when what it says changes.
 * @param {import('./lib/screen.js').WarningKind} kind
 * @param {number} attempts
 * @param {string} reason
 */
function warn(kind, attempts, reason) {
  const key = `${kind}|${attempts}|${reason}`;
  if (key === warningKey) return;
  warningKey = key;
  el.warning.hidden = kind === '';
  const [title, text] = warningWords(kind, attempts, reason);
  el.warningTitle.textContent = title;
  el.warningText.textContent = text;
}

const view = new LaneView();
const music = new MusicNow();
let frameDt = 1 / 60;
let lastRaf = 0;

/** @param {number} raf */
function frame(raf) {
  requestAnimationFrame(frame);
  if (lastRaf > 0) {
    const d = (raf - lastRaf) / 1000;
    frameDt = refreshInterval(frameDt, d);
  }
  lastRaf = raf;
  const w = warningOf(conn.state, conn.clock.quality(now(), quality), state.transport.engine);
  if (w.kind !== '') {
    warn(w.kind, w.kind === 'lost' ? conn.attempts : 0, w.reason);
    el.picture.blank();
    return;
  }
  warn('', 0, '');
  // The server time at which this refresh's light leaves the screen.
  const t = conn.clock.toServer((raf + frameDt * 1000 + settings.offsetMs) / 1000);
  const anchor = state.anchor;
  state.schedule.frame(t, frameDt, view);
  const p = position(anchor, t);
  const cue = book.cueAt(p, state.armed);
  const m = cue !== null ? book.musicOf(cue.id) : undefined;
  if (m !== undefined) m.at(p, music);
  el.picture.render(t, anchor, view, follower.texts(settings, cue, m, music, state));
  if (debug !== null) {
    debug.frames.push({ raf, t, dt: frameDt });
    if (debug.frames.length > 2000) debug.frames.splice(0, 1000);
  }
}

// The status line and the full-screen button show while the mouse moves, then get out of the picture.
let awakeTimer = 0;
document.addEventListener('pointermove', () => {
  document.body.dataset.awake = '';
  clearTimeout(awakeTimer);
  awakeTimer = setTimeout(() => delete document.body.dataset.awake, AWAKE * 1000);
});
$('full').addEventListener('click', () => {
  if (document.fullscreenElement) void document.exitFullscreen();
  else void document.documentElement.requestFullscreen?.().catch(() => {});
});

showHealth();
stayAwake();
conn.start();
requestAnimationFrame(frame);
