import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CueMusic, MusicNow, clockText, cueData, nextChangeText, nextHitText, tempoText } from '../lib/music.js';

// One bar of 4/4 count-off at 120, then 4/4 for two bars, a change to 3/4 at bar 3 (accel. over 2 clicks).
const clicks = [];
for (let b = 0; b < 4; b++) clicks.push({ time: -2 + b * 0.5, bar: 0, beat: b + 1, kind: 'warning', length: 0.5 });
for (let bar = 1; bar <= 2; bar++) {
  for (let b = 0; b < 4; b++) clicks.push({ time: (bar - 1) * 2 + b * 0.5, bar, beat: b + 1, kind: b ? 'normal' : 'accent', length: 0.5 });
}
for (let b = 0; b < 3; b++) clicks.push({ time: 4 + b * 0.4, bar: 3, beat: b + 1, kind: b ? 'normal' : 'accent', length: 0.4 });
const CUE = cueData({
  id: '1M1', title: 'Main Title', free: false, downbeat: 100, first: 98, end_position: 105.2,
  breakdown: {
    tempos: [
      { bar: 1, time: { seconds: 0 }, clicks_per_minute: 120, meter: '4/4', click: '4', ramp: 0, ramp_kind: '' },
      { bar: 3, time: { seconds: 4 }, clicks_per_minute: 150, meter: '3/4', click: '4', ramp: 2, ramp_kind: 'accel.' },
    ],
    hits: [{ label: 'door slams', time: { seconds: 4.4 }, bar: 3, beat: 2, color: 'yellow' }],
  },
}, clicks);

test('bar and beat at a position, and the beats of the bar', () => {
  const m = new CueMusic(CUE);
  const n = new MusicNow();
  m.at(100.0, n);
  assert.deepEqual([n.phase, n.bar, n.beat, n.beats, n.accent], ['music', 1, 1, 4, true]);
  m.at(101.49, n);
  assert.deepEqual([n.bar, n.beat], [1, 3]);
  assert.ok(Math.abs(n.sinceClick - 0.49) < 1e-9);
  m.at(104.5, n);
  assert.deepEqual([n.bar, n.beat, n.beats], [3, 2, 3]);
  m.at(97, n);
  assert.equal(n.phase, 'before');
  m.at(106, n);
  assert.equal(n.phase, 'after');
});

test('the count-off counts down its warning clicks into bar 1', () => {
  const m = new CueMusic(CUE);
  const n = new MusicNow();
  const seen = [98, 98.5, 99, 99.5].map((p) => m.at(p, n).countdown);
  assert.deepEqual(seen, [4, 3, 2, 1]);
  assert.equal(m.at(99.7, n).phase, 'countoff');
  assert.equal(m.at(100, n).countdown, 0);
});

test('tempo now, the next change with its ramp, the next hit in bars and then in seconds', () => {
  const m = new CueMusic(CUE);
  const n = m.at(100.2, new MusicNow());
  assert.equal(tempoText(CUE.tempos[n.tempo]), '120 · 4/4');
  assert.equal(nextChangeText(CUE.tempos, n.tempo), 'bar 3: accel. over 2 to 150 · 3/4');
  assert.equal(nextHitText(m, n), 'door slams — bar 3 beat 2, in 2 bars');
  m.at(104.1, n);
  assert.equal(nextHitText(m, n), 'door slams — bar 3 beat 2, in 0.3 s');
  assert.equal(nextChangeText(CUE.tempos, n.tempo), '');
  m.at(104.5, n);
  assert.equal(n.hit, -1);
});

test('a free-timing cue: seconds since its start and the time to its next hit', () => {
  const free = cueData({ id: '1M2', title: 'Free', free: true, downbeat: 200, first: 200, end_position: 230,
    breakdown: { tempos: [], hits: [{ label: 'beam', time: { seconds: 16.85 }, bar: null, beat: null, color: 'cyan' }] } }, []);
  const m = new CueMusic(free);
  const n = m.at(212.34, new MusicNow());
  assert.equal(n.phase, 'free');
  assert.equal(clockText(n.seconds), '12.3');
  assert.equal(nextHitText(m, n), 'beam, in 4.5 s');
  assert.equal(clockText(65.05), '1:05.0');
  assert.equal(clockText(-0.5), '−0.5');
});

test("a pickup's count-in counts down into the pickup bar", () => {
  // Pickup from bar 3: three warning clicks at bar 3's 0.4 s, the last one a click before bar 3, then bar 3.
  const countIn = [0, 1, 2].map((b) => ({ time: 2.8 + b * 0.4, bar: 2, beat: b + 1, kind: 'warning', length: 0.4 }));
  const raw = { id: '1M1', title: 'Main Title', free: false, downbeat: 100, first: 98, end_position: 105.2 };
  const tempos = { tempos: [
    { bar: 1, time: { seconds: 0 }, clicks_per_minute: 120, meter: '4/4', click: '4', ramp: 0, ramp_kind: '' },
    { bar: 3, time: { seconds: 4 }, clicks_per_minute: 150, meter: '3/4', click: '4', ramp: 0, ramp_kind: '' },
  ] };
  const pickup = cueData({ ...raw, breakdown: tempos }, [...countIn, ...clicks.filter((c) => c.bar >= 3)]);
  const m = new CueMusic(pickup);
  const n = new MusicNow();
  assert.deepEqual([2.8, 3.2, 3.6].map((s) => m.at(100 + s, n).countdown), [3, 2, 1]);
  assert.equal(n.into, 3);
  assert.equal(n.tempo, 1); // counted in at bar 3's tempo, not at the tempo where picture stands
  assert.equal(new CueMusic(CUE).at(98.5, n).tempo, 0); // a count-off: the first tempo
  m.at(104, n);
  assert.deepEqual([n.phase, n.bar, n.beat, n.into], ['music', 3, 1, 3]);
  assert.equal(new CueMusic(CUE).at(98, n).into, 1);
});
