// The /ws protocol's messages (docs/ws.md; schemas in docs/ws/*.json), as a page sends and reads them.  Pure.

/** Protocol version this page speaks. */
export const VERSION = 1;

/** Topics a screen that only reads subscribes to. */
export const SCREEN_TOPICS = Object.freeze(['transport', 'cue', 'session', 'schedule', 'take']);

/**
 * @param {string} role
 * @param {string} name
 * @param {readonly string[]} topics
 * @param {string} [token]
 * @returns {string}
 */
export function hello(role, name, topics, token) {
  /** @type {Record<string, unknown>} */
  const msg = { type: 'hello', role, topics: [...topics] };
  if (name) msg.name = name.slice(0, 64);
  if (token) msg.token = token;
  return JSON.stringify(msg);
}

/**
 * @param {number} t0 the page's clock, seconds
 * @returns {string}
 */
export function sync(t0) {
  return `{"type":"sync","t0":${t0}}`;
}

/** @returns {string} */
export function snapshotRequest() {
  return '{"type":"snapshot"}';
}

/**
 * A screen's report: the frame that first showed `key`'s end (a streamer reaching its punch, a punch).
 * @param {string} key the schedule event's key
 * @param {string} kind 'streamer' | 'punch' | 'flutter'
 * @param {number} due server time it was due on screen
 * @param {number} shown server time (by this page's clock) of the frame that showed it
 * @param {number} delay the best round trip behind that clock (seconds)
 * @param {number} frame display frame period (seconds)
 * @returns {string}
 */
export function drawn(key, kind, due, shown, delay, frame) {
  return JSON.stringify({ type: 'drawn', key, kind, due, shown, delay: Math.min(delay, 60), frame });
}

/**
 * @param {string | number} id
 * @param {string} command
 * @param {Record<string, unknown>} [args]
 * @returns {string}
 */
export function command(id, command, args) {
  return JSON.stringify(args ? { type: 'command', id, command, args } : { type: 'command', id, command });
}

/**
 * @typedef {{type: 'welcome', client: number, role: string, topics: string[], server_time: number}} Welcome
 * @typedef {{type: 'snapshot', server_time: number, seq: number, state: Record<string, any>, schedule: unknown[]}} Snapshot
 * @typedef {{type: 'event', topic: string, seq: number, data: Record<string, any>}} Event
 * @typedef {{type: 'sync', t0: number, t1: number, t2: number}} SyncReply
 * @typedef {{type: 'result', id?: string | number, command: string, data: Record<string, any>}} Result
 * @typedef {{type: 'error', id?: string | number, code: string, message: string}} ErrorReply
 * @typedef {Welcome | Snapshot | Event | SyncReply | Result | ErrorReply} ServerMessage
 */

/** Required fields and their JSON types, per server message (the schemas' `required`). */
const REQUIRED = /** @type {Record<string, Record<string, string>>} */ ({
  welcome: { protocol: 'number', client: 'number', role: 'string', topics: 'array', server_time: 'number' },
  snapshot: { server_time: 'number', seq: 'number', state: 'object', schedule: 'array' },
  event: { topic: 'string', seq: 'number', data: 'object' },
  sync: { t0: 'number', t1: 'number', t2: 'number' },
  result: { command: 'string', data: 'object' },
  error: { code: 'string', message: 'string' },
});

/**
 * A server frame as a message, or null when it is not one this page understands.
 * @param {string} text
 * @returns {ServerMessage | null}
 */
export function parse(text) {
  let raw;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const fields = REQUIRED[raw.type];
  if (fields === undefined) return null;
  for (const [name, kind] of Object.entries(fields)) {
    const v = raw[name];
    const ok = kind === 'array' ? Array.isArray(v) : kind === 'object' ? v !== null && typeof v === 'object' : typeof v === kind;
    if (!ok) return null;
  }
  return /** @type {ServerMessage} */ (raw);
}
