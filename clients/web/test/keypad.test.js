import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barBeat, press, shown } from '../lib/keypad.js';

const typed = (/** @type {string[]} */ keys) => keys.reduce(press, '');

test('a bar, then a beat after the beat key', () => {
  assert.equal(typed(['1', '7']), '17');
  assert.deepEqual(barBeat('17'), { bar: 17, beat: 1 });
  assert.equal(typed(['1', '7', 'beat', '3']), '17|3');
  assert.deepEqual(barBeat('17|3'), { bar: 17, beat: 3 });
  assert.equal(shown('17|3'), '17 | 3');
  assert.equal(shown('17|'), '17 | _');
  assert.equal(shown(''), '–');
});

test('nothing to go to until a bar is typed, and while the beat is still to come', () => {
  assert.equal(barBeat(''), null);
  assert.equal(typed(['0', '0']), '');
  assert.equal(typed(['beat', '3']), '3'); // no bar yet: the beat key waits for one
  assert.equal(barBeat('17|'), null);
  assert.equal(typed(['1', 'beat', '0']), '1|');
  assert.equal(barBeat('1|'), null);
});

test('delete takes back the last key, the beat key too; each part has its length', () => {
  assert.equal(typed(['1', '7', 'beat', '3', 'back']), '17|');
  assert.equal(typed(['1', '7', 'beat', 'back']), '17');
  assert.equal(typed(['1', '2', '3', '4', '5']), '1234');
  assert.equal(typed(['9', 'beat', '1', '2', '3']), '9|12');
  assert.equal(typed(['9', 'beat', 'beat', '2']), '9|2');
});
