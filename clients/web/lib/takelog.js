// The take log as a page holds it: rows by id from GET /api/takes, kept up to date by `take` events, and the take
// being recorded as the session announces it, pending until its `take` event says it is in the take log.  Pure.

/** Best first: what "the best take of a cue" means on a take sheet. */
export const RANK = Object.freeze(['print', 'hold', 'complete', 'incomplete', 'breakdown', 'false_start']);

/** The worst status a take can have and still be a cue's best (by RANK): incomplete. */
const USABLE = RANK.indexOf('incomplete');

/** Words for each status. */
export const STATUS_TEXT = Object.freeze(/** @type {Record<string, string>} */ ({
  false_start: 'false start', breakdown: 'breakdown', incomplete: 'incomplete', complete: 'complete', hold: 'hold', print: 'circled',
}));

/** @typedef {{id: number, cue: string, take: number, label?: string, pickup_bar: number | null, wild: boolean, status: string | null, tc_in: string, tc_out: string | null, duration: number | null, time_of_day: string, date: string, notes: {role: string, text: string, at: string}[], version: number, ended_at: string | null, revision?: string | null, picture_revision?: string | null}} TakeRow */

/** @typedef {Omit<TakeRow, 'id'> & {id: number | null}} AnnouncedTake a take as the session names it (no id until stored) */
/** @typedef {{key: string, take: AnnouncedTake, kept: boolean}} LogEntry one line of the log: kept (in the take log) or pending */

/**
 * True when `row` (in the take log) is the take `t` announced: the same cue and number, or (logged under the next
 * free number, another controller having taken its own) the same cue rolled at the same place and moment.
 * @param {AnnouncedTake} t @param {TakeRow} row
 */
function sameTake(t, row) {
  return row.cue === t.cue && (row.take === t.take || (row.tc_in === t.tc_in && row.date === t.date && row.time_of_day === t.time_of_day));
}

export class TakeLog {
  constructor() {
    /** @type {Map<number, TakeRow>} */
    this.rows = new Map();
    /** Takes the session announced that no `take` event has shown in the take log yet: "cue-number" → take. */
    /** @type {Map<string, AnnouncedTake>} */
    this.pending = new Map();
  }

  /**
   * The take log as read from the stage (GET /api/takes): every row kept.  What was pending is forgotten: a take
   * still being recorded is announced again from the session (`announce`).
   * @param {TakeRow[]} rows
   */
  load(rows) {
    this.rows.clear();
    this.pending.clear();
    for (const r of rows) if (typeof r.id === 'number') this.rows.set(r.id, r);
  }

  /**
   * The session's take being recorded (its `take`): one not in the take log yet is pending, shown at once and
   * never as kept.  True when the pending takes changed.
   * @param {Record<string, any> | null | undefined} take
   * @returns {boolean}
   */
  announce(take) {
    if (take === null || typeof take !== 'object' || typeof take.cue !== 'string' || typeof take.take !== 'number') return false;
    if (typeof take.id === 'number' && this.rows.has(take.id)) return false;
    const t = /** @type {AnnouncedTake} */ (take);
    for (const row of this.rows.values()) if (sameTake(t, row)) return false;
    const key = `${t.cue}-${t.take}`;
    const old = this.pending.get(key);
    if (old !== undefined && JSON.stringify(old) === JSON.stringify(t)) return false;
    this.pending.set(key, t);
    return true;
  }

  /**
   * A `take` event's row; the row it replaced (undefined: new).
   * @param {Record<string, any>} data
   * @returns {TakeRow | null}
   */
  apply(data) {
    const row = data.take;
    if (row === null || typeof row !== 'object' || typeof row.id !== 'number') return null;
    const old = this.rows.get(row.id);
    // Events can cross a reload: never go back to an older version of a take.
    if (old !== undefined && old.version > row.version) return old;
    this.rows.set(row.id, row);
    for (const [key, t] of this.pending) if (sameTake(t, row)) this.pending.delete(key);
    return row;
  }

  /**
   * What the log shows, in order: the kept rows as logged (of `cue`), then the pending takes.
   * @param {string} [cue]
   * @returns {LogEntry[]}
   */
  entries(cue) {
    /** @type {LogEntry[]} */
    const out = this.list(cue).map((take) => ({ key: `id ${take.id}`, take, kept: true }));
    const waiting = [...this.pending.values()].filter((t) => !cue || t.cue === cue);
    waiting.sort((a, b) => (a.cue < b.cue ? -1 : a.cue > b.cue ? 1 : a.take - b.take));
    for (const take of waiting) out.push({ key: `new ${take.cue}-${take.take}`, take, kept: false });
    return out;
  }

  /** @param {string} [cue] @returns {TakeRow[]} in the order logged */
  list(cue) {
    const out = [...this.rows.values()].filter((r) => !cue || r.cue === cue);
    return out.sort((a, b) => a.id - b.id);
  }

  /** The latest take (highest id), or null. */
  latest() {
    let best = null;
    for (const r of this.rows.values()) if (best === null || r.id > best.id) best = r;
    return best;
  }

  /**
   * Per cue: how many takes, how many circled, and the best one: the highest by RANK (the later of equals) of
   * those marked as music someone could use, print to incomplete; none while every take is unmarked, a false
   * start or a breakdown.
   * @returns {Map<string, {count: number, circled: number, best: TakeRow | null}>}
   */
  summary() {
    /** @type {Map<string, {count: number, circled: number, best: TakeRow | null}>} */
    const out = new Map();
    const rank = (/** @type {TakeRow} */ r) => (r.status === null ? -1 : RANK.indexOf(r.status));
    for (const r of this.list()) {
      const s = out.get(r.cue) ?? { count: 0, circled: 0, best: null };
      s.count += 1;
      if (r.status === 'print') s.circled += 1;
      if (rank(r) >= 0 && rank(r) <= USABLE && (s.best === null || rank(r) <= rank(s.best))) s.best = r;
      out.set(r.cue, s);
    }
    return out;
  }
}

/** @typedef {{status: string | null, pickup_bar: number | null, wild: boolean}} TakeMarks */

/** The fields of a take an editor changes in place. */
const MARKS = /** @type {const} */ (['status', 'pickup_bar', 'wild']);

/** @param {TakeRow} t @returns {TakeMarks} */
export function marksOf(t) {
  return { status: t.status, pickup_bar: t.pickup_bar, wild: t.wild };
}

/**
 * The changes an editor sends: the fields its user changed from the take as the editor was opened on it, never
 * one they left alone (someone else may have changed that one meanwhile).
 * @param {TakeMarks} opened @param {TakeMarks} form
 * @returns {Partial<TakeMarks>}
 */
export function changedMarks(opened, form) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const k of MARKS) if (form[k] !== opened[k]) out[k] = form[k];
  return /** @type {Partial<TakeMarks>} */ (out);
}

/**
 * After someone else's edit: the editor goes on from the take as it is now, showing their value in every field
 * its user left alone and keeping the user's own where they changed one.
 * @param {TakeMarks} opened @param {TakeMarks} form @param {TakeMarks} now
 * @returns {{opened: TakeMarks, form: TakeMarks}}
 */
export function rebaseMarks(opened, form, now) {
  const merged = { ...now };
  for (const k of MARKS) if (form[k] !== opened[k]) /** @type {Record<string, unknown>} */ (merged)[k] = form[k];
  return { opened: { ...now }, form: merged };
}

/**
 * A duration as m:ss.t.
 * @param {number | null} s
 * @returns {string}
 */
export function durationText(s) {
  if (s === null || !Number.isFinite(s)) return '';
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return `${m}:${rest < 10 ? '0' : ''}${rest.toFixed(1)}`;
}
