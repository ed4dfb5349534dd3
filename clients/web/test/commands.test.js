import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Commander, refusalTitle } from '../lib/commands.js';

/** A commander over a fake link: what it sent, and timers run by hand. */
function rig(connected = true) {
  const sent = [];
  const timers = new Map();
  let next = 1;
  const c = new Commander((text) => {
    if (connected) sent.push(JSON.parse(text));
    return connected;
  }, (fn) => {
    timers.set(next, fn);
    return next++;
  }, (id) => timers.delete(id));
  return { c, sent, timers };
}

test('a command gets its own answer by id, result or error', async () => {
  const { c, sent } = rig();
  const play = c.run('play');
  const arm = c.run('arm', { cue: '1M1' });
  assert.deepEqual(sent, [{ type: 'command', id: 1, command: 'play' }, { type: 'command', id: 2, command: 'arm', args: { cue: '1M1' } }]);
  assert.equal(c.receive({ type: 'error', id: 2, code: 'refused', message: 'rolling: stop first' }), true);
  assert.equal(c.receive({ type: 'result', id: 1, command: 'play', data: { take: null } }), true);
  assert.deepEqual(await play, { ok: true, data: { take: null } });
  assert.deepEqual(await arm, { ok: false, code: 'refused', message: 'rolling: stop first' });
  assert.equal(c.receive({ type: 'result', id: 1, command: 'play', data: {} }), false);
});

test('no connection: nothing sent, said at once', async () => {
  const { c, sent } = rig(false);
  const a = await c.run('stop');
  assert.equal(sent.length, 0);
  assert.equal(a.ok, false);
  assert.equal(a.ok === false && a.code, 'no_connection');
  assert.equal(refusalTitle('no_connection'), 'no connection');
});

test('the link lost or no answer: the page cannot know whether it was done', async () => {
  const { c, timers } = rig();
  const lost = c.run('play');
  c.lost();
  const a = await lost;
  assert.equal(a.ok === false && a.code, 'lost');
  const slow = c.run('stop');
  [...timers.values()].at(-1)();
  const b = await slow;
  assert.equal(b.ok === false && b.code, 'timeout');
  assert.equal(refusalTitle('conflict'), 'changed meanwhile');
});
