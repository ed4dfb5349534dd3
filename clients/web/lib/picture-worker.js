// The picture's VideoDecoder, in a worker of its own (lib/decoder-link.js starts it).  A browser's decoder hands
// each frame back to the thread that owns it before it takes the next chunk: owned by a page's main thread, which
// draws the lane, the overlay and the rest at every refresh, a group of pictures decodes several times slower on
// a busy machine (docs/picture.md).  Here the decoder has a thread to itself; its frames go to the page, moved,
// not copied.
//
// In:  {op: 'configure', config} · {op: 'group', data, chunks: [{type, timestamp, start, end}]} · {op: 'flush', id}
//      · {op: 'reset'} · {op: 'close'}
// Out: {op: 'frame', frame, epoch} · {op: 'flushed', id, epoch, error} · {op: 'error', message}
//      · {op: 'unavailable', message} (no decoder here: the page decodes on its own thread)
// `epoch` counts the resets seen: a frame or a flush from before the latest reset is stale, and the page drops it.

/** @type {any} */
const scope = self;
/** @type {VideoDecoder | null} */
let decoder = null;
let epoch = 0;

/** @param {Record<string, unknown>} message @param {Transferable[]} [moved] */
function tell(message, moved = []) {
  scope.postMessage(message, moved);
}

function make() {
  decoder = new VideoDecoder({
    output: (frame) => {
      try {
        tell({ op: 'frame', frame, epoch }, [frame]);
      } catch (e) {
        frame.close();
        tell({ op: 'unavailable', message: `a decoded frame cannot be handed to the page: ${String(e)}` });
      }
    },
    error: (e) => {
      decoder = null;
      tell({ op: 'error', message: String(e) });
    },
  });
  return decoder;
}

if (typeof VideoDecoder === 'undefined') {
  tell({ op: 'unavailable', message: 'no VideoDecoder in a worker' });
} else {
  scope.onmessage = (/** @type {MessageEvent} */ ev) => {
    const m = ev.data;
    try {
      if (m.op === 'configure') {
        (decoder ?? make()).configure(m.config);
      } else if (m.op === 'group') {
        const d = decoder;
        if (d === null) return; // failed: the page has heard, and makes it again
        for (const c of m.chunks) {
          d.decode(new EncodedVideoChunk({ type: c.type, timestamp: c.timestamp,
                                           data: new Uint8Array(m.data, c.start, c.end - c.start) }));
        }
      } else if (m.op === 'flush') {
        const at = epoch;
        if (decoder === null) {
          tell({ op: 'flushed', id: m.id, epoch: at, error: 'no decoder' });
          return;
        }
        decoder.flush().then(() => tell({ op: 'flushed', id: m.id, epoch: at, error: null }),
                             (e) => tell({ op: 'flushed', id: m.id, epoch: at, error: String(e) }));
      } else if (m.op === 'reset') {
        epoch++;
        if (decoder !== null && decoder.state !== 'closed') decoder.reset();
      } else if (m.op === 'close') {
        if (decoder !== null && decoder.state !== 'closed') decoder.close();
        decoder = null;
        scope.close();
      }
    } catch (e) {
      decoder = null;
      tell({ op: 'error', message: String(e) });
    }
  };
}
