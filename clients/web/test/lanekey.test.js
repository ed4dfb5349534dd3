import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FRESH, LaneKey } from '../lib/lanekey.js';
import { MusicNow } from '../lib/music.js';
import { LaneView, Schedule } from '../lib/schedule.js';

const A = { t0: 1000, p0: 3600, speed: 1 };
const DT = 1 / 60;
const W = 960;
const H = 150;

function ev(key, kind, position, length, label = '') {
  const start = A.t0 + position - A.p0;
  return { key, cue: '1M1', kind, position, length, start, end: start + length, timecode: '', bar: 3, beat: 1,
    color: 'yellow', label, late: false };
}

function rolling(events) {
  const s = new Schedule();
  s.transport(A, 999);
  s.announce({ anchor: A, events });
  return s;
}

function at(s, t) {
  const v = new LaneView();
  s.frame(t, DT, v);
  return v;
}

test('a frame drawing what the last one drew is skipped; any change draws', () => {
  const key = new LaneKey();
  const empty = new LaneView();
  assert.equal(key.same(empty, null, false, W, H, 1, 'ltr'), false, 'the first frame is drawn');
  assert.equal(key.same(empty, null, false, W, H, 1, 'ltr'), true, 'the same again is not');
  assert.equal(key.same(empty, null, false, W, H, 2, 'ltr'), false, 'a new pixel ratio draws');
  assert.equal(key.same(empty, null, false, W, H, 2, 'rtl'), false, 'a new direction draws');
  assert.equal(key.same(empty, null, true, W, H, 2, 'rtl'), false, 'the calibration flash draws');
  assert.equal(key.same(empty, null, false, W, H, 2, 'rtl'), false, 'and its end');
  assert.equal(key.same(null, null, false, W, H, 2, 'rtl'), false, 'blank after a lane draws');
  assert.equal(key.same(null, null, false, W, H, 2, 'rtl'), true, 'blank after blank does not');
  key.reset();
  assert.equal(key.same(null, null, false, W, H, 2, 'rtl'), false, 'after a reset (a resized canvas) it draws');
});

test('a moving streamer draws every device pixel it moves, a stopped one never again', () => {
  const s = rolling([ev('s', 'streamer', 3602, 2, 'door')]);
  const key = new LaneKey();
  let drawn = 0;
  // 2 s across 960 px at 60 frames a second: 8 px a frame, every frame drawn.
  for (let i = 0; i < 100; i++) if (!key.same(at(s, 1002.1 + i * DT), null, false, W, H, 1, 'ltr')) drawn++;
  assert.equal(drawn, 100);
  // The same head position (stopped picture) frame after frame: one draw.
  drawn = 0;
  for (let i = 0; i < 30; i++) if (!key.same(at(s, 1003), null, false, W, H, 1, 'ltr')) drawn++;
  assert.equal(drawn, 1);
  // Less than a device pixel of travel is the same frame; a whole one is not.
  const v = at(s, 1003);
  v.drawn[0].progress += 0.2 / W;
  assert.equal(key.same(v, null, false, W, H, 1, 'ltr'), true);
  v.drawn[0].progress += 1 / W;
  assert.equal(key.same(v, null, false, W, H, 1, 'ltr'), false);
});

test('another item at the same place draws (items compare by identity)', () => {
  const a = at(rolling([ev('a', 'streamer', 3602, 2)]), 1003);
  const b = at(rolling([ev('b', 'streamer', 3602, 2)]), 1003);
  const key = new LaneKey();
  assert.equal(key.same(a, null, false, W, H, 1, 'ltr'), false);
  assert.equal(key.same(b, null, false, W, H, 1, 'ltr'), false);
  assert.equal(key.same(b, null, false, W, H, 1, 'ltr'), true);
});

test("the cue punch's ring draws as it grows; a plain punch draws once, and once more when it goes", () => {
  const cue = rolling([ev('p', 'punch', 3604, 0, 'start')]);
  const plain = rolling([ev('q', 'punch', 3604, 0)]);
  const draws = (s, dpr) => {
    const key = new LaneKey();
    let drawn = 0;
    // 10 frames from the hit: the punch shows for 7 of them (PUNCH_TIME), the 8th clears it.
    for (let i = 0; i < 10; i++) if (!key.same(at(s, 1004 + i * DT), null, false, W, H, dpr, 'ltr')) drawn++;
    return drawn;
  };
  // The ring grows 40 px a second: 1⅓ device pixels a frame at a ratio of 2, every frame new.
  assert.equal(draws(cue, 2), 8);
  // Two thirds of a pixel a frame at a ratio of 1: radii 0, 1, 2, 2, 3, 4, 4 px, two frames the same as before.
  assert.equal(draws(cue, 1), 6);
  assert.equal(draws(plain, 2), 2);
});

test('the beat lights draw on each beat and at the end of its flash, not between', () => {
  const key = new LaneKey();
  const view = new LaneView();
  const m = new MusicNow();
  m.phase = 'music';
  m.beats = 4;
  m.beat = 1;
  m.accent = true;
  m.sinceClick = 0;
  assert.equal(key.same(view, m, false, W, H, 1, 'ltr'), false);
  m.sinceClick = FRESH / 2;
  assert.equal(key.same(view, m, false, W, H, 1, 'ltr'), true, 'within the flash');
  m.sinceClick = FRESH;
  assert.equal(key.same(view, m, false, W, H, 1, 'ltr'), false, 'the flash ends');
  m.sinceClick = 0.3;
  assert.equal(key.same(view, m, false, W, H, 1, 'ltr'), true);
  m.beat = 2;
  m.accent = false;
  m.sinceClick = 0;
  assert.equal(key.same(view, m, false, W, H, 1, 'ltr'), false, 'the next beat');
  m.phase = 'countoff';
  assert.equal(key.same(view, m, false, W, H, 1, 'ltr'), false, 'count-off lights are amber');
  assert.equal(key.same(view, null, false, W, H, 1, 'ltr'), false, 'no music: no lights');
});
