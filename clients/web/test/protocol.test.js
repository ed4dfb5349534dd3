import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { drawn, hello, parse, sync } from '../lib/protocol.js';

const schema = (name) => JSON.parse(readFileSync(new URL(`../../../docs/ws/${name}.json`, import.meta.url), 'utf8'));

/** The messages this page sends fit the schemas generated from the server's table (required, no extras). */
function fits(msg, s) {
  for (const r of s.required) assert.ok(r in msg, `${r} is missing`);
  for (const k of Object.keys(msg)) assert.ok(k in s.properties, `${k} is not in the schema`);
  for (const [k, v] of Object.entries(msg)) {
    const p = s.properties[k];
    if (p.const !== undefined) assert.equal(v, p.const);
    if (p.enum) assert.ok(p.enum.includes(v), `${k}: ${v}`);
    if (p.type === 'number') assert.equal(typeof v, 'number');
    if (p.maxLength) assert.ok(v.length <= p.maxLength);
  }
}

test('hello, sync and drawn fit their schemas', () => {
  fits(JSON.parse(hello('musician', 'desk 4', ['transport', 'schedule'])), schema('client.hello'));
  fits(JSON.parse(hello('musician', 'x'.repeat(100), ['transport'])), schema('client.hello'));
  fits(JSON.parse(sync(12.25)), schema('client.sync'));
  fits(JSON.parse(drawn('1M1#12', 'punch', 100.5, 100.501, 0.0004, 1 / 60)), schema('client.drawn'));
});

test('server frames are read, garbage is not', () => {
  assert.deepEqual(parse('{"type":"sync","t0":1,"t1":2,"t2":3}'), { type: 'sync', t0: 1, t1: 2, t2: 3 });
  assert.equal(parse('{"type":"sync","t0":1,"t1":2}'), null);
  assert.equal(parse('{"type":"event","topic":"beat","seq":1,"data":null}'), null);
  assert.equal(parse('[1]'), null);
  assert.equal(parse('nope'), null);
  assert.equal(parse('{"type":"launch"}'), null);
});
