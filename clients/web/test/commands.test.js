import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANSWER_TIMEOUT, Commander, answerTimeout, doneText, refusalTitle, wayBack } from '../lib/commands.js';

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

test('"no cue is armed" gets the way back on the page that refused it, other refusals as the stage said them', () => {
  assert.equal(wayBack('no cue is armed: arm the cue to record first', 'conductor'),
    'no cue is armed: arm the cue to record first — touch a cue in the list to arm it');
  assert.equal(wayBack('no cue is armed: arm one to play', 'engineer'), 'no cue is armed: arm one to play — choose the cue under Armed');
  assert.equal(wayBack('already recording take 1M1-3', 'conductor'), 'already recording take 1M1-3');
  assert.equal(wayBack('no cue is armed: arm one to play', 'musician'), 'no cue is armed: arm one to play');
});

test('a command for the timecode master waits for its lock too, and says where it locked', () => {
  const mmc = { to_master: true, device_id: 127, lock_timeout: 5 };
  assert.equal(answerTimeout('play', mmc), ANSWER_TIMEOUT + 5);
  assert.equal(answerTimeout('pickup', mmc), ANSWER_TIMEOUT + 5);
  assert.equal(answerTimeout('take_status', mmc), ANSWER_TIMEOUT);
  assert.equal(answerTimeout('play', { to_master: false, lock_timeout: 5 }), ANSWER_TIMEOUT);
  assert.equal(answerTimeout('play', null), ANSWER_TIMEOUT);
  assert.equal(doneText({ take: null }), '✓ done');
  assert.equal(doneText({ take: null, master: { timecode: '00:00:39:09', rolling: true, bar: 15 } }), '✓ locked 00:00:39:09 · bar 15');
  assert.equal(doneText({ master: { timecode: '00:00:16:20', rolling: true, bar: -1 } }), '✓ locked 00:00:16:20');
  assert.equal(doneText({ master: { timecode: '00:00:41:08', rolling: false, bar: 17 } }), '✓ master at 00:00:41:08 · bar 17');
  assert.equal(refusalTitle('master'), 'the master did not follow');
});

test('the wait is the one asked for', async () => {
  const { c, timers } = rig();
  const slow = c.run('play', {}, 11);
  [...timers.values()].at(-1)();
  const a = await slow;
  assert.equal(a.ok === false && a.message, 'no answer to play within 11 s: look before repeating it');
});
