import assert from 'node:assert/strict';
import test from 'node:test';

import {
  AHEAD, BEHIND, BYTES_AHEAD, LEAD, MAX_HELD, aimAt, dueSample, farthest, fpsOf, frameOf, gopBytes, gopOf, gopSamples, groupsToFetch, groupsToRead, inCut,
  keep, parseIndex, wanted,
} from '../lib/picture-frame.js';

/**
 * An index as the stage writes it: `frames` samples of `size` bytes after a 1000-byte header, a keyframe every 12.
 * @param {[number, number]} fps
 * @param {number} startFrame
 * @param {number} frames
 * @param {string} rate
 */
function index(fps, startFrame, frames, rate) {
  const offsets = [];
  const sizes = [];
  let at = 1000;
  for (let k = 0; k < frames; k++) {
    const size = k % 12 === 0 ? 5000 : 700 + k;
    offsets.push(at);
    sizes.push(size);
    at += size;
  }
  const keyframes = [];
  for (let k = 0; k < frames; k += 12) keyframes.push(k);
  return /** @type {import('../lib/picture-frame.js').PictureIndex} */ ({
    version: 1, revision: '1-abc', codec: 'avc1.64001f', description: 'AWQAH/8=', width: 320, height: 180, rate,
    fps, start: '', start_frame: startFrame, frames, keyframes, offsets, sizes,
  });
}

// 00:59:58:00 at 23.976 is frame 86352; at 29.97 drop-frame 00:59:58;00 is frame 107784 (3598 s of nominal 30,
// less 2 frames in each of the 54 minutes not divisible by ten).
const i23 = index([24000, 1001], 86352, 288, '23.976');
const idf = index([30000, 1001], 107784, 120, '29.97df');
const i25 = index([25, 1], 89950, 100, '25');

test('the frame due is the frame picture is in at the display time, drop-frame counted as frames', () => {
  // Picture at the cut's first frame's start: sample 0; a millionth of a frame short of it still counts as it.
  const p0 = (86352 * 1001) / 24000;
  assert.equal(dueSample(i23, { t0: 10, p0, speed: 1 }, 10), 0);
  assert.equal(dueSample(i23, { t0: 10, p0: p0 - 1e-9, speed: 1 }, 10), 0);
  assert.equal(dueSample(i23, { t0: 10, p0, speed: 1 }, 10 - 0.01), -1);
  // 1001/24000 s a frame: half a second later is frame 11 (0.5 × 23.976 = 11.99).
  assert.equal(dueSample(i23, { t0: 10, p0, speed: 1 }, 10.5), 11);
  assert.equal(dueSample(i23, { t0: 10, p0, speed: 1 }, 10 + (12 * 1001) / 24000), 12);
  // Varispeed: at 1.5 the same half second is 17.98 frames on; at 0.5, 5.99.
  assert.equal(dueSample(i23, { t0: 10, p0, speed: 1.5 }, 10.5), 17);
  assert.equal(dueSample(i23, { t0: 10, p0, speed: 0.5 }, 10.5), 5);
  // Stopped: the same frame whatever the time.
  assert.equal(dueSample(i23, { t0: 10, p0: p0 + 1, speed: 0 }, 99), 23);
  // 29.97 drop-frame: frames are frames (the timecode's names skip, the frames do not).
  const pdf = (107784 * 1001) / 30000;
  assert.equal(dueSample(idf, { t0: 0, p0: pdf, speed: 1 }, 1), 29);
  assert.equal(dueSample(idf, { t0: 0, p0: pdf, speed: 1 }, 1.002), 30);
  assert.equal(dueSample(i25, { t0: 0, p0: 3598, speed: 1 }, 0.04), 1);
  assert.equal(frameOf(3598, [25, 1]), 89950);
  assert.equal(fpsOf(i25), 25);
});

test('outside the cut there is no picture', () => {
  assert.equal(inCut(i23, -1), false);
  assert.equal(inCut(i23, 0), true);
  assert.equal(inCut(i23, 287), true);
  assert.equal(inCut(i23, 288), false);
  assert.deepEqual(wanted(i23, -50, 1), { lo: 0, hi: 0 });
  assert.deepEqual(wanted(i23, 400, 1), { lo: 288, hi: 288 });
  assert.deepEqual(groupsToFetch(i23, -50, 1, () => false, new Set()), []);
  // Rolling towards the cut from just before it: its first group is read ahead.
  assert.deepEqual(groupsToFetch(i23, -5, 1, () => false, new Set()), [0]);
});

test('a group of pictures is a keyframe to the next, one range of bytes', () => {
  assert.equal(gopOf(i23, 0), 0);
  assert.equal(gopOf(i23, 11), 0);
  assert.equal(gopOf(i23, 12), 1);
  assert.equal(gopOf(i23, 287), 23);
  assert.deepEqual(gopSamples(i23, 23), { first: 276, end: 288 });
  const { start, end } = gopBytes(i23, 1);
  assert.equal(start, i23.offsets[12]);
  assert.equal(end, i23.offsets[23] + i23.sizes[23]);
  assert.equal(end, i23.offsets[24]);
  // The last group ends with the file's last sample.
  assert.equal(gopBytes(i23, 23).end, i23.offsets[287] + i23.sizes[287]);
});

test('rolling forward, half a second ahead is read; stopped, only the frame; backwards, behind', () => {
  const ahead = Math.ceil((24000 / 1001) * AHEAD);
  assert.deepEqual(wanted(i23, 100, 1), { lo: 100, hi: 101 + ahead });
  assert.deepEqual(wanted(i23, 100, 0), { lo: 100, hi: 101 });
  assert.deepEqual(wanted(i23, 100, -1), { lo: 100 - ahead, hi: 101 });
  assert.deepEqual(wanted(i23, 100, 2), { lo: 100, hi: 101 + Math.ceil(2 * (24000 / 1001) * AHEAD) });
  // Nothing held: the groups in the order picture reaches them.
  assert.deepEqual(groupsToFetch(i23, 100, 1, () => false, new Set()), [8, 9]);
  assert.deepEqual(groupsToFetch(i23, 100, -1, () => false, new Set()), [8, 7]);
  assert.deepEqual(groupsToFetch(i23, 100, 0, () => false, new Set()), [8]);
  // What is held or on its way is not asked for again.
  assert.deepEqual(groupsToFetch(i23, 100, 1, () => false, new Set([8])), [9]);
  const held = (/** @type {number} */ k) => k >= 96 && k < 108;
  assert.deepEqual(groupsToFetch(i23, 100, 1, held, new Set()), [9]);
  // One missing frame of a group is enough to ask for it (a group decodes from its keyframe only).
  assert.deepEqual(groupsToFetch(i23, 100, 0, (k) => k !== 100, new Set()), [8]);
});

test('the bytes of three seconds ahead are read ahead of their decoding, in the direction picture moves', () => {
  const groups = Math.ceil(BYTES_AHEAD * (24000 / 1001) / 12);
  const ahead = groupsToRead(i23, 100, 1);
  assert.equal(ahead[0], 8);
  assert.ok(ahead.length >= groups && ahead.length <= groups + 1, String(ahead));
  assert.deepEqual(ahead, [...ahead].sort((a, b) => a - b));
  assert.deepEqual(groupsToRead(i23, 100, 0), [8]);
  assert.deepEqual(groupsToRead(i23, 100, -1).slice(0, 2), [8, 7]);
  // Near the end of the cut: what there is.
  assert.deepEqual(groupsToRead(i23, 280, 1), [23]);
});

test('frames are kept around the playhead and let go as it passes', () => {
  // Forward: from BEHIND frames back to the end of the group the read-ahead ends in.
  assert.equal(keep(i23, 100 - BEHIND, 100, 1), true);
  assert.equal(keep(i23, 100 - BEHIND - 1, 100, 1), false);
  const hi = wanted(i23, 100, 1).hi;
  assert.equal(keep(i23, gopSamples(i23, gopOf(i23, hi - 1)).end - 1, 100, 1), true);
  assert.equal(keep(i23, gopSamples(i23, gopOf(i23, hi - 1)).end, 100, 1), false);
  // Stopped: the frame and a couple either side.
  assert.equal(keep(i23, 100, 100, 0), true);
  assert.equal(keep(i23, 100 + BEHIND, 100, 0), true);
  assert.equal(keep(i23, 100 + BEHIND + 1, 100, 0), false);
  // Outside the cut: nothing.
  assert.equal(keep(i23, 0, -100, 1), false);
  // However far the window reaches, the bound on what is held stands.
  let most = 0;
  for (const speed of [-2, -1, 0, 0.5, 1, 1.5, 2]) {
    let n = 0;
    for (let k = 0; k < i23.frames; k++) if (keep(i23, k, 150, speed)) n++;
    most = Math.max(most, n);
  }
  assert.ok(most <= MAX_HELD, `${most} kept`);
  assert.equal(farthest([3, 10, 40, 12], 11), 40);
  assert.equal(farthest([], 11), null);
});

test('an index the page cannot play is refused', () => {
  assert.equal(parseIndex(null), null);
  assert.equal(parseIndex({ ...i23, codec: 3 }), null);
  assert.equal(parseIndex({ ...i23, frames: 0 }), null);
  assert.equal(parseIndex({ ...i23, offsets: i23.offsets.slice(1) }), null);
  assert.equal(parseIndex({ ...i23, keyframes: [12, 24] }), null);
  assert.equal(parseIndex({ ...i23, fps: [0, 1] }), null);
  assert.deepEqual(parseIndex(JSON.parse(JSON.stringify(i23))), i23);
});

test('the refresh interval is the display\'s, not the page\'s: a missed refresh counts as two', async () => {
  const { refreshInterval } = await import('../lib/screen.js');
  let dt = 1 / 60;
  // A busy page: every third rAF comes two refreshes late.
  for (let i = 0; i < 300; i++) dt = refreshInterval(dt, i % 3 === 0 ? 2 / 60 : 1 / 60);
  assert.ok(Math.abs(dt - 1 / 60) < 1e-9, String(dt));
  // A 50 Hz display is found from a 60 Hz guess.
  for (let i = 0; i < 300; i++) dt = refreshInterval(dt, 1 / 50);
  assert.ok(Math.abs(dt - 1 / 50) < 1e-4, String(dt));
  assert.equal(refreshInterval(0.02, 0.5), 0.02);
});

test('after a locate while rolling, decoding aims where picture will be once its group is fetched and decoded', () => {
  const lead = Math.ceil((24000 / 1001) * LEAD);
  assert.ok(lead >= 2 && lead <= 4, String(lead));
  // Stopped: the frame itself.
  assert.equal(aimAt(i23, 100, 0), 100);
  // Rolling: LEAD seconds on, in picture's direction and at its speed.
  assert.equal(aimAt(i23, 100, 1), 100 + lead);
  assert.equal(aimAt(i23, 100, -1), 100 - lead);
  assert.equal(aimAt(i23, 100, 0.5), 100 + Math.ceil(0.5 * (24000 / 1001) * LEAD));
  assert.equal(aimAt(i23, 100, 1.5), 100 + Math.ceil(1.5 * (24000 / 1001) * LEAD));
  // Near a group's end the playhead leaves it before it could be shown: the next group is the one asked for.
  const last = gopSamples(i23, 8).end - 1; // 107
  assert.deepEqual(groupsToFetch(i23, aimAt(i23, last - 1, 1), 1, () => false, new Set()), [9, 10]);
  // Early in a group, the group itself.
  assert.deepEqual(groupsToFetch(i23, aimAt(i23, 96, 1), 1, () => false, new Set()), [8, 9]);
  // Clipped to the cut, and outside it left alone.
  assert.equal(aimAt(i23, 287, 1), 287);
  assert.equal(aimAt(i23, 1, -1), 0);
  assert.equal(aimAt(i23, -40, 1), -40);
});
