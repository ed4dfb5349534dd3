// The picture's proxy decoded in the page with WebCodecs, and each frame's block code read back from canvas pixels.
//
// An async function expression: (indexUrl, proxyUrl, groups) fetches the revision's index.json, then each group of
// pictures named in `groups` (0: from keyframes[0] to the next keyframe) with one HTTP Range request, decodes their
// samples with a VideoDecoder configured from the index (codec and avcC description), draws every VideoFrame to a
// canvas at the proxy's size and reads the code there as tests/peers/cuts.py read_code does.  It answers
// {frames: [{sample, code}], errors: [...], ranges: [{status, range}]}; a code is null where the strips are not one
// clean code.
async (indexUrl, proxyUrl, groups) => {
  const CELLS = 18; // a start cell, 16 bits, an end cell (tests/peers/cuts.py)
  const STRIP = 0.1;
  const readCode = (image) => {
    const { width, height, data } = image;
    const strip = height * STRIP;
    const rows = [];
    for (const row of [0, 1]) {
      const y0 = Math.round(strip * (row + 0.3));
      const y1 = Math.max(y0 + 1, Math.round(strip * (row + 0.7)));
      const cells = [];
      for (let i = 0; i < CELLS; i++) {
        const x0 = Math.round((i + 0.3) * width / CELLS);
        const x1 = Math.max(x0 + 1, Math.round((i + 0.7) * width / CELLS));
        let sum = 0;
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const p = (y * width + x) * 4;
            sum += (data[p] * 299 + data[p + 1] * 587 + data[p + 2] * 114) / 1000; // PIL's "L"
          }
        }
        const mean = sum / ((y1 - y0) * (x1 - x0));
        if (mean > 70 && mean < 185) return null; // a blend, or something drawn over the code
        cells.push(mean >= 128 ? 1 : 0);
      }
      rows.push(cells);
    }
    const [top, bottom] = rows;
    if (top[0] !== 1 || top[CELLS - 1] !== 0 || top.some((bit, i) => bit === bottom[i])) return null;
    return top.slice(1, -1).reduce((k, bit) => (k << 1) | bit, 0);
  };

  const index = await (await fetch(indexUrl)).json();
  const description = Uint8Array.from(atob(index.description), (c) => c.charCodeAt(0));
  const canvas = document.createElement('canvas');
  canvas.width = index.width;
  canvas.height = index.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const frames = [];
  const errors = [];
  const decoder = new VideoDecoder({
    output: (frame) => {
      ctx.drawImage(frame, 0, 0, index.width, index.height);
      frames.push({ sample: Math.round(frame.timestamp / 1000), code: readCode(ctx.getImageData(0, 0, index.width, index.height)) });
      frame.close();
    },
    error: (e) => errors.push(String(e)),
  });
  decoder.configure({ codec: index.codec, description, codedWidth: index.width, codedHeight: index.height });
  const keyframes = new Set(index.keyframes);
  const ranges = [];
  let next = -1;
  for (const g of groups) {
    const first = index.keyframes[g];
    // A jump (a seek): what was fed is delivered first, as the picture page does after every group.  WebKitGTK
    // needs this: fed a keyframe earlier than the frames before it with no flush between, it stamps every frame
    // that follows with the last timestamp it gave (the pictures are right, their timestamps are not).
    if (first !== next && next !== -1) await decoder.flush();
    const end = index.keyframes[g + 1] ?? index.frames;
    const start = index.offsets[first];
    const stop = index.offsets[end - 1] + index.sizes[end - 1];
    const answer = await fetch(proxyUrl, { headers: { Range: `bytes=${start}-${stop - 1}` } });
    ranges.push({ status: answer.status, range: answer.headers.get('content-range') });
    const bytes = new Uint8Array(await answer.arrayBuffer());
    for (let k = first; k < end; k++) {
      const at = index.offsets[k] - start;
      decoder.decode(new EncodedVideoChunk({
        type: keyframes.has(k) ? 'key' : 'delta', timestamp: k * 1000, duration: 1000,
        data: bytes.subarray(at, at + index.sizes[k]),
      }));
    }
    next = end;
  }
  await decoder.flush();
  decoder.close();
  return { frames, errors, ranges };
}
