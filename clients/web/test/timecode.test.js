import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameAt, timecodeAt, timecodeOf } from '../lib/timecode.js';

const R24 = { name: '24', fps: /** @type {[number, number]} */ ([24, 1]), nominal: 24, drop: false };
const R2398 = { name: '23.976', fps: /** @type {[number, number]} */ ([24000, 1001]), nominal: 24, drop: false };
const DF30 = { name: '29.97df', fps: /** @type {[number, number]} */ ([30000, 1001]), nominal: 30, drop: true };
const DF60 = { name: '59.94df', fps: /** @type {[number, number]} */ ([60000, 1001]), nominal: 60, drop: true };

test('frames count up to 24 hours and wrap, non-drop', () => {
  assert.equal(timecodeOf(0, R24), '00:00:00:00');
  assert.equal(timecodeOf(23, R24), '00:00:00:23');
  assert.equal(timecodeOf(1440, R24), '00:01:00:00');
  assert.equal(timecodeOf(86400, R24), '01:00:00:00');
  assert.equal(timecodeOf(24 * 86400 - 1, R24), '23:59:59:23');
  assert.equal(timecodeOf(24 * 86400, R24), '00:00:00:00');
  assert.equal(timecodeOf(-1, R24), '23:59:59:23');
});

test('drop-frame skips the first frame numbers of every minute but the tenth', () => {
  assert.equal(timecodeOf(1799, DF30), '00:00:59;29');
  assert.equal(timecodeOf(1800, DF30), '00:01:00;02'); // ;00 and ;01 do not exist
  assert.equal(timecodeOf(17981, DF30), '00:09:59;29');
  assert.equal(timecodeOf(17982, DF30), '00:10:00;00'); // the tenth minute keeps them
  assert.equal(timecodeOf(107892, DF30), '01:00:00;00');
  assert.equal(timecodeOf(3600, DF60), '00:01:00;04'); // 59.94 drops four
});

test('a position is in the frame it falls in, with slack for float error at a boundary', () => {
  assert.equal(frameAt(3604, R24), 86496);
  assert.equal(frameAt(5 / 24 - 1e-12, R24), 5);
  assert.equal(frameAt(5 / 24 - 1e-4, R24), 4);
  assert.equal(timecodeAt(3604, R24), '01:00:04:00');
  assert.equal(timecodeAt(3603.5, R2398), '00:59:59:21'); // 23.976 runs slow of the clock
  assert.equal(timecodeAt(3601.2345, DF30), '01:00:01;07');
  assert.equal(timecodeAt(-1, R24), '00:00:00:00');
});
