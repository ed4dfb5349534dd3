// Where picture's timecode comes from, as every console shows it: the stage's own clock, or MTC or LTC chased
// from a master, with the chase's lock (the transport topic's `source` and `sync`, docs/ws.md).

/**
 * What a console shows of the clock: `word` for a header (capitals, short), `detail` for a status list (with
 * LTC's user bits when the stream carries them), `ok` whether all is well (null: nothing to follow).
 * @typedef {{source: 'internal' | 'mtc' | 'ltc', word: string, detail: string, ok: boolean | null}} ClockView
 */

/** @type {Record<string, string>} a chase's state as a console says it */
const STATES = { locked: 'locked', locating: 'locking', freewheel: 'freewheeling', stopped: 'no signal' };

/**
 * The clock of the transport topic's data `transport`.
 * @param {Record<string, any>} transport
 * @returns {ClockView}
 */
export function clockView(transport) {
  const source = transport.source === 'mtc' || transport.source === 'ltc' ? transport.source : 'internal';
  if (source === 'internal') return { source, word: 'INTERNAL', detail: 'internal clock', ok: null };
  const name = source.toUpperCase();
  const sync = transport.sync && typeof transport.sync === 'object' ? transport.sync : {};
  const state = sync.locked === true ? 'locked' : (STATES[sync.state] ? sync.state : 'stopped');
  const word = state === 'stopped' ? `NO ${name}` : `${name} ${STATES[state].toUpperCase()}`;
  const bits = source === 'ltc' && typeof sync.user_bits === 'string' ? ` · user bits ${sync.user_bits}` : '';
  return { source, word, detail: `${name} in: ${STATES[state]}${bits}`, ok: state === 'locked' };
}
