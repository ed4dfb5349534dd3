import assert from 'node:assert/strict';
import { test } from 'node:test';
import { importLine, pictureLine, takeRevisions } from '../lib/cutstatus.js';

test('the current picture in one line, from its record or from the session state', () => {
  assert.equal(pictureLine(null), 'none imported');
  assert.equal(pictureLine({ revision: '3-1f9a2c', rate: '23.976', start_frame: 86352, frames: 240 }), '3-1f9a2c, 240 frames at 23.976 fps');
  assert.equal(pictureLine({ revision: '3-1f9a2c', rate: '29.97df', frames: 1, name: 'reel2_v14.mov', start: '00:59:58;00' }),
    '3-1f9a2c: reel2_v14.mov from 00:59:58;00, 1 frame at 29.97df fps');
});

test('an import in words: each step with how far along, then its revision or why not', () => {
  assert.equal(importLine(null), null);
  assert.deepEqual(importLine({ state: 'encoding', name: 'reel2.mov', fraction: 0.6789 }),
    { text: 'importing reel2.mov: making the proxy, 67 % done', state: 'busy' });
  assert.deepEqual(importLine({ state: 'receiving', fraction: -1 }), { text: 'importing the cut: receiving, 0 % done', state: 'busy' });
  assert.deepEqual(importLine({ state: 'done', name: 'reel2.mov', fraction: 1, revision: '4-aa00bb' }),
    { text: 'reel2.mov is picture 4-aa00bb', state: 'done' });
  assert.deepEqual(importLine({ state: 'failed', name: 'phone.mp4', error: 'phone.mp4 has a variable frame rate' }),
    { text: 'phone.mp4 was not imported: phone.mp4 has a variable frame rate; the current picture stays', state: 'failed' });
});

test("a take's revisions: its cue's, its picture's, and whether that picture is an earlier cut", () => {
  assert.deepEqual(takeRevisions({ revision: '5e1f00c0ffee', picture_revision: '3-1f9a2c' }, '3-1f9a2c'),
    { cue: 'cue 5e1f00', picture: 'pic 3-1f9a2c', earlier: false });
  assert.deepEqual(takeRevisions({ revision: '5e1f00c0ffee', picture_revision: '3-1f9a2c' }, '4-aa00bb'),
    { cue: 'cue 5e1f00', picture: 'pic 3-1f9a2c', earlier: true });
  assert.deepEqual(takeRevisions({ revision: null, picture_revision: null }, '4-aa00bb'), { cue: 'cue –', picture: 'no picture', earlier: false });
  assert.deepEqual(takeRevisions({}, null), { cue: 'cue –', picture: 'no picture', earlier: false });
});
