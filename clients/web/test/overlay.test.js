import assert from 'node:assert/strict';
import test from 'node:test';

import { MusicNow } from '../lib/music.js';
import { OverlayView, barWidth, countText, headX, punchRadius, textSizes } from '../lib/overlay.js';
import { LaneView, Schedule } from '../lib/schedule.js';

const ALL = { streamers: true, punches: true, flutters: true };

/** A schedule rolling at `speed` from picture 0 at server time 0, holding `events`. */
function schedule(events, speed = 1) {
  const s = new Schedule();
  s.load({ t0: 0, p0: 0, speed }, events);
  return s;
}

const DOOR = [
  { key: 's1', kind: 'streamer', position: 10, length: 2, color: 'yellow', label: 'door' },
  { key: 'p1', kind: 'punch', position: 12, length: 0, color: 'yellow', label: 'door' },
  { key: 'f1', kind: 'flutter', position: 12.5, length: 0, color: 'cyan', label: '' },
  { key: 'd1', kind: 'punch', position: 20, length: 0, color: 'green', label: 'downbeat' },
];

test('a streamer is a bar the whole height whose leading edge reaches the far edge at the hit', () => {
  const lane = new LaneView();
  const view = new OverlayView();
  const s = schedule(DOOR);
  // Half way (picture 11 of 10 → 12): the head in the middle of a 1280-wide picture, the bar behind it.
  view.fill(s.frame(11, 1 / 24, lane), 1280, 720, 'ltr', ALL);
  assert.equal(view.barCount, 1);
  assert.equal(view.bars[0].left, 640 - barWidth(1280));
  assert.equal(view.bars[0].width, 1280 * 0.012);
  assert.equal(view.bars[0].color, 'yellow');
  // Its label beside it on the side it comes from, below the top fifth.
  assert.equal(view.labelCount, 1);
  assert.equal(view.labels[0].text, 'door');
  assert.equal(view.labels[0].right, true);
  assert.equal(view.labels[0].x, 640 - 1.5 * barWidth(1280));
  assert.equal(view.labels[0].y, 720 * 0.22);
  // Right to left: the head comes from the right, the bar trails it to the right.
  view.fill(s.frame(11.5, 1 / 24, lane), 1280, 720, 'rtl', ALL);
  assert.equal(view.bars[0].left, 320);
  assert.equal(view.labels[0].right, false);
  // Edges to centre: two bars, mirrored, meeting in the middle at the hit.
  view.fill(s.frame(12 - 1e-9, 1 / 24, lane), 1280, 720, 'centre', ALL);
  assert.equal(view.barCount, 2);
  assert.ok(Math.abs(view.bars[0].left + view.bars[0].width - 640) < 1e-3);
  assert.ok(Math.abs(view.bars[1].left - 640) < 1e-3);
  // A narrow picture: never under 6 px.
  assert.equal(barWidth(320), 6);
  assert.equal(headX(0.25, 1000, 'ltr'), 250);
  assert.equal(headX(0.25, 1000, 'rtl'), 750);
  assert.equal(headX(0.25, 1000, 'centre'), 125);
});

test('the punch is a disc at the centre from the frame nearest the hit for 0.125 s; the cue\'s own has a ring', () => {
  const lane = new LaneView();
  const view = new OverlayView();
  const s = schedule(DOOR);
  const dt = 1 / 24;
  // Half a frame before the hit: the streamer's last frame and the punch's first.
  view.fill(s.frame(12 - dt / 2 + 1e-9, dt, lane), 1280, 720, 'ltr', ALL);
  assert.equal(view.discCount, 1);
  assert.equal(view.discs[0].radius, punchRadius(720, 1));
  assert.equal(view.discs[0].radius, 720 * 0.25 / 2);
  assert.equal(view.discs[0].ring, 0);
  view.fill(s.frame(12 - dt / 2 + 0.126, dt, lane), 1280, 720, 'ltr', ALL);
  assert.equal(view.discCount, 0);
  // A flutter's punch is smaller.
  view.fill(s.frame(12.5, dt, lane), 1280, 720, 'ltr', ALL);
  assert.equal(view.discCount, 1);
  assert.equal(view.discs[0].radius, 720 * 0.15 / 2);
  assert.equal(view.discs[0].color, 'cyan');
  // The downbeat's: larger, and ringed.
  view.fill(s.frame(20, dt, lane), 1280, 720, 'ltr', ALL);
  assert.equal(view.discs[0].radius, 720 * 0.35 / 2);
  assert.equal(view.discs[0].ring, 720 * 0.35 / 2 * 1.3);
  assert.equal(view.discs[0].ringWidth, 720 * 0.35 / 2 * 0.12);
  // What is not asked for is not drawn.
  view.fill(s.frame(11, dt, lane), 1280, 720, 'ltr', { streamers: false, punches: true, flutters: true });
  assert.equal(view.barCount + view.labelCount, 0);
  view.fill(s.frame(12.5, dt, lane), 1280, 720, 'ltr', { streamers: true, punches: true, flutters: false });
  assert.equal(view.discCount, 0);
  // Stopped: nothing over the picture.
  view.fill(schedule(DOOR, 0).frame(11, dt, lane), 1280, 720, 'ltr', ALL);
  assert.equal(view.barCount + view.discCount + view.labelCount, 0);
});

test('the burnt-in band says bar|beat, the count-off or a free cue\'s seconds, as the movie does', () => {
  const n = new MusicNow();
  n.phase = 'music';
  n.bar = 12;
  n.beat = 3;
  const clock = (/** @type {number} */ s) => `${s.toFixed(1)}`;
  assert.equal(countText(n, true, false, clock), '12 | 3');
  assert.equal(countText(n, false, true, clock), '');
  n.phase = 'countoff';
  n.countdown = 2;
  assert.equal(countText(n, false, true, clock), 'COUNT-OFF 2');
  assert.equal(countText(n, true, false, clock), 'COUNT-OFF 2');
  assert.equal(countText(n, false, false, clock), '');
  n.phase = 'free';
  n.seconds = 4.25;
  assert.equal(countText(n, true, false, clock), '4.3');
  n.phase = 'after';
  assert.equal(countText(n, true, true, clock), '');
  // Sizes: 6 % of the height (12 px at the least), the band half as high again.
  assert.deepEqual(textSizes(720), { text: 43.199999999999996, band: 65, pad: 21.599999999999998, label: 40 });
  assert.equal(textSizes(100).text, 12);
});
