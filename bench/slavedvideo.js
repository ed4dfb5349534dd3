// The reference for bench/picture.py: a plain <video> element playing the stage's proxy, slaved to the stage's
// transport the way MediaSync-style libraries slave one (timingsrc's mediasync and its kin): from the same
// synced clock and anchor as the stage's pages (the stage's own lib/ modules), every CHECK ms it compares the
// element's currentTime with where picture is; far off (more than SEEK s) it seeks there, ahead by the time its
// seeks have been taking; near, it nudges playbackRate to close the gap within about a second; stopped, it
// pauses and seeks to the frame's middle.  At every animation frame it draws the element into a canvas: what
// the element shows is read from those pixels (tests/peers/pictureprobe.js), as the /picture page's are.
//
// Query: src (the proxy's URL), num, den (the rate), start (the proxy's first frame, counted from 0:00:00:00).

import { position } from '/web/lib/anchor.js';
import { StageConnection } from '/web/lib/connection.js';
import { SCREEN_TOPICS } from '/web/lib/protocol.js';
import { ScreenState } from '/web/lib/state.js';

const CHECK = 100; // ms between two checks
const SEEK = 0.5; // s: farther than this, seek
const NEAR = 0.004; // s: nearer than this, play at the transport's speed
const GAIN = 1.0; // 1/s: playbackRate − speed per second of error
const NUDGE = 0.25; // the most playbackRate strays from the transport's speed (a share of it)

const query = new URLSearchParams(location.search);
const fps = Number(query.get('num')) / Number(query.get('den'));
const startFrame = Number(query.get('start'));
const video = /** @type {HTMLVideoElement} */ (document.getElementById('video'));
const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('canvas'));
const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
video.muted = true;
video.preload = 'auto';
video.src = String(query.get('src'));

const now = () => performance.now() / 1000;
const state = new ScreenState();
const conn = new StageConnection({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
  role: 'musician', name: 'reference video', topics: SCREEN_TOPICS, now,
});
conn.onmessage = (msg) => {
  state.apply(msg, conn.clock.toServer(now()));
};
conn.start();

let frameDt = 1 / 60;
let lastRaf = 0;
let seekLag = 0.1; // s a seek has been taking (learned)
let seekAt = NaN;
const stats = { seeks: 0, nudges: 0 };
/** @type {any} */ (globalThis).reference = stats;

video.addEventListener('seeked', () => {
  if (Number.isFinite(seekAt)) seekLag += (now() - seekAt - seekLag) * 0.5;
  seekAt = NaN;
});

/** Media time (s) picture is at when what the element shows now reaches the screen. */
function target() {
  const t = conn.clock.toServer(now() + frameDt);
  return position(state.anchor, t) - startFrame / fps;
}

function check() {
  if (conn.state !== 'open' || !conn.clock.quality(now()).trusted || video.readyState < 1) return;
  const speed = state.anchor.speed;
  const want = target();
  if (want < 0 || !(want < video.duration)) return; // no cut there
  const diff = video.currentTime - want; // > 0: ahead
  if (speed === 0) {
    if (!video.paused) video.pause();
    const middle = (Math.floor(want * fps) + 0.5) / fps;
    if (!video.seeking && Math.abs(video.currentTime - middle) > 0.45 / fps) {
      seekAt = now();
      video.currentTime = middle;
      stats.seeks++;
    }
    return;
  }
  if (Math.abs(diff) > SEEK || video.paused) {
    if (video.seeking) return;
    seekAt = now();
    video.playbackRate = speed;
    video.currentTime = Math.max(0, want + speed * seekLag);
    stats.seeks++;
    if (video.paused) void video.play().catch(() => {});
    return;
  }
  let rate = speed;
  if (Math.abs(diff) > NEAR) rate = speed - GAIN * diff;
  rate = Math.min(speed * (1 + NUDGE), Math.max(speed * (1 - NUDGE), rate));
  if (Math.abs(video.playbackRate - rate) > 0.0005) {
    video.playbackRate = rate;
    stats.nudges++;
  }
}
setInterval(check, CHECK);

/** @param {number} raf */
function frame(raf) {
  requestAnimationFrame(frame);
  if (lastRaf > 0) {
    const d = (raf - lastRaf) / 1000;
    if (d > 0.002 && d < 0.05) frameDt += (d - frameDt) * 0.05;
  }
  lastRaf = raf;
  if (video.readyState >= 2) ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
}
requestAnimationFrame(frame);
