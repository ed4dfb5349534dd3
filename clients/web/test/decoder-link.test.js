import assert from 'node:assert/strict';
import test from 'node:test';

import { WorkerDecoder } from '../lib/decoder-link.js';

/** A worker that records what it is sent; the test answers for it. */
class FakeWorker {
  /** @param {string | URL} script */
  constructor(script) {
    this.script = String(script);
    /** @type {{message: any, moved: Transferable[]}[]} */
    this.sent = [];
    this.terminated = false;
    /** @type {((ev: {data: any}) => void) | null} */
    this.onmessage = null;
    /** @type {((ev: any) => void) | null} */
    this.onerror = null;
    FakeWorker.last = this;
  }

  /** @param {any} message @param {Transferable[]} [moved] */
  postMessage(message, moved = []) {
    this.sent.push({ message, moved });
  }

  terminate() {
    this.terminated = true;
  }

  /** @param {any} data */
  answer(data) {
    this.onmessage?.({ data });
  }
}
/** @type {FakeWorker | null} */
FakeWorker.last = null;

/** A decoded frame as the worker hands it over: closed once the page is done with it. */
class Frame {
  /** @param {number} timestamp */
  constructor(timestamp) {
    this.timestamp = timestamp;
    this.closed = false;
  }

  close() {
    this.closed = true;
  }
}

function linked() {
  /** @type {any} */ (globalThis).Worker = FakeWorker;
  /** @type {Frame[]} */
  const out = [];
  /** @type {[string, boolean][]} */
  const errors = [];
  const link = new WorkerDecoder({
    output: (frame) => out.push(/** @type {any} */ (frame)),
    error: (e, unavailable) => errors.push([e.message, unavailable]),
  });
  const worker = /** @type {FakeWorker} */ (FakeWorker.last);
  return { link, worker, out, errors };
}

test('a group goes to the worker in one message, its bytes moved, and its frames come back to the page', () => {
  const { link, worker, out } = linked();
  assert.ok(worker.script.endsWith('/lib/picture-worker.js'), worker.script);
  link.configure({ codec: 'avc1.64001f' });
  assert.equal(link.state, 'configured');
  const fetched = new Uint8Array([9, 9, 1, 2, 3, 4, 5, 9]);
  const chunks = [{ type: /** @type {'key'} */ ('key'), timestamp: 24, start: 2, end: 4 },
                  { type: /** @type {'delta'} */ ('delta'), timestamp: 25, start: 4, end: 7 }];
  link.group(fetched.subarray(2, 7), chunks);
  const { message, moved } = worker.sent[1];
  assert.equal(message.op, 'group');
  assert.deepEqual(message.chunks, chunks);
  assert.deepEqual([...new Uint8Array(message.data)], [1, 2, 3, 4, 5]);
  assert.deepEqual(moved, [message.data]);
  assert.equal(fetched[2], 1); // the page's own bytes are left as they were
  const frame = new Frame(24);
  worker.answer({ op: 'frame', frame, epoch: 0 });
  assert.deepEqual(out, [frame]);
  assert.equal(frame.closed, false);
});

test('after a reset, frames and flushes from before it are dropped: closed, and the flush rejected', async () => {
  const { link, worker, out } = linked();
  link.configure({ codec: 'avc1.64001f' });
  const flushed = link.flush();
  link.reset();
  await assert.rejects(flushed, /reset/);
  assert.equal(link.state, 'unconfigured');
  assert.deepEqual(worker.sent.map((s) => s.message.op), ['configure', 'flush', 'reset']);
  const stale = new Frame(30);
  worker.answer({ op: 'frame', frame: stale, epoch: 0 }); // decoded before the worker saw the reset
  assert.equal(stale.closed, true);
  assert.deepEqual(out, []);
  link.configure({ codec: 'avc1.64001f' });
  const fresh = new Frame(31);
  worker.answer({ op: 'frame', frame: fresh, epoch: 1 });
  assert.deepEqual(out, [fresh]);
  const again = link.flush();
  worker.answer({ op: 'flushed', id: 1, epoch: 1, error: null });
  await again;
});

test('a decoder error closes the link; a worker without a decoder says so, and the page decodes on its own', () => {
  const failed = linked();
  failed.link.configure({ codec: 'avc1.64001f' });
  failed.worker.answer({ op: 'error', message: 'EncodingError: Decoder error.' });
  assert.deepEqual(failed.errors, [['EncodingError: Decoder error.', false]]);
  assert.equal(failed.link.state, 'closed');
  assert.equal(failed.worker.terminated, true);
  assert.throws(() => failed.link.group(new Uint8Array(1), []), /closed/);
  const late = new Frame(40);
  failed.worker.answer({ op: 'frame', frame: late, epoch: 0 });
  assert.equal(late.closed, true);

  const bare = linked();
  bare.worker.answer({ op: 'unavailable', message: 'no VideoDecoder in a worker' });
  assert.deepEqual(bare.errors, [['no VideoDecoder in a worker', true]]);
  const broken = linked();
  broken.worker.onerror?.({ message: '', preventDefault() {} });
  assert.deepEqual(broken.errors, [["the decoder's worker failed: it did not load", true]]);
});
