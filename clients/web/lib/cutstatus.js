// The picture as the engineer's console shows it: the current cut, an import under way, and what picture a take
// was recorded against (docs/picture.md).  Pure: data from the stage in, words out.

/** @typedef {{revision: string, rate?: string, frames?: number, name?: string, start?: string}} PictureInfo */
/** @typedef {{state: string, name?: string, fraction?: number, revision?: string | null, error?: string | null}} ImportEvent */

/** What each step of an import is called (the `picture` topic's `state`). */
export const STEP_TEXT = Object.freeze(/** @type {Record<string, string>} */ ({
  receiving: 'receiving', hashing: 'hashing', reading: 'reading', encoding: 'making the proxy', indexing: 'indexing',
}));

/**
 * The current picture in one line: `3-1f9a2c: reel2_v14.mov from 00:59:58:00, 240 frames at 23.976 fps`; the name
 * and start when the record is known (GET /api/picture), else what the session state carries.
 * @param {PictureInfo | null | undefined} p
 * @returns {string}
 */
export function pictureLine(p) {
  if (!p || typeof p.revision !== 'string') return 'none imported';
  const what = [p.name, p.start ? `from ${p.start}` : ''].filter(Boolean).join(' ');
  const size = typeof p.frames === 'number' ? `${p.frames} frame${p.frames === 1 ? '' : 's'}${p.rate ? ` at ${p.rate} fps` : ''}` : '';
  return [`${p.revision}${what ? `: ${what}` : ''}`, size].filter(Boolean).join(', ');
}

/**
 * An import as the `picture` topic tells it, in words: under way (`busy`), `done` or `failed`; null for no import.
 * @param {ImportEvent | null | undefined} d
 * @returns {{text: string, state: 'busy' | 'done' | 'failed'} | null}
 */
export function importLine(d) {
  if (!d || typeof d.state !== 'string') return null;
  const name = d.name || 'the cut';
  if (d.state === 'done') return { text: `${name} is picture ${d.revision}`, state: 'done' };
  if (d.state === 'failed') return { text: `${name} was not imported: ${d.error || 'no reason given'}; the current picture stays`, state: 'failed' };
  const percent = Math.floor(Math.min(Math.max(d.fraction ?? 0, 0), 1) * 100);
  return { text: `importing ${name}: ${STEP_TEXT[d.state] ?? d.state}, ${percent} % done`, state: 'busy' };
}

/**
 * A take's revisions for the take log: its cue's (the first six of the hash) and its picture's, the picture marked
 * `earlier` when it is not the current one.
 * @param {{revision?: string | null, picture_revision?: string | null}} take
 * @param {string | null | undefined} current the current picture revision
 * @returns {{cue: string, picture: string, earlier: boolean}}
 */
export function takeRevisions(take, current) {
  const pic = take.picture_revision ?? null;
  return {
    cue: take.revision ? `cue ${take.revision.slice(0, 6)}` : 'cue –',
    picture: pic ? `pic ${pic}` : 'no picture',
    earlier: pic !== null && typeof current === 'string' && pic !== current,
  };
}
