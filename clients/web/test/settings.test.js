import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, loadSettings, storeSettings, withSetting } from '../lib/settings.js';

test('the URL wins over what was kept, which wins over the defaults', () => {
  assert.deepEqual(loadSettings('', null), DEFAULTS);
  const kept = storeSettings({ ...DEFAULTS, name: 'violas', offsetMs: 20, size: 'l' });
  const s = loadSettings('?name=desk%204&offset_ms=-35&direction=center', kept);
  assert.deepEqual(s, { ...DEFAULTS, name: 'desk 4', offsetMs: -35, direction: 'centre', size: 'l' });
  assert.equal(loadSettings('?calibrate&debug=1', null).calibrate, true);
});

test('values that do not fit are ignored, not half-applied', () => {
  const s = loadSettings('?offset_ms=9999&direction=up&size=xl&offset=3', '{"offsetMs": "abc", "name": 4}');
  assert.deepEqual(s, { ...DEFAULTS, name: '4' });
  assert.deepEqual(loadSettings('', '{not json'), DEFAULTS);
  assert.equal(withSetting(DEFAULTS, 'offsetMs', '').offsetMs, 0);
  assert.equal(withSetting(DEFAULTS, 'offsetMs', '12.5').offsetMs, 12.5);
});
