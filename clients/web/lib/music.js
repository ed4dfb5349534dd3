// Where the music is at a picture position: bar|beat, the count-off, tempo and meter now and next, the next hit.
// Pure: built from the cue's data as the REST API gives it (GET /api/cues/{id} and /api/cues/{id}/clicks),
// asked with a picture position.  `at` fills an object made once.

/**
 * @typedef {object} Click  one click, relative to the cue's downbeat
 * @property {number} time seconds
 * @property {number} bar
 * @property {number} beat
 * @property {string} kind 'accent' | 'normal' | 'warning'
 */

/**
 * @typedef {object} Tempo  a tempo row of the breakdown
 * @property {number} bar
 * @property {number} time seconds from the downbeat
 * @property {number} cpm clicks per minute
 * @property {string} meter
 * @property {string} click the click unit ('4', '8', '4.')
 * @property {number} ramp clicks of accel./rit. into it
 * @property {string} rampKind 'accel.', 'rit.' or ''
 */

/**
 * @typedef {object} Hit
 * @property {string} label
 * @property {number} time seconds from the downbeat
 * @property {number | null} bar
 * @property {number | null} beat
 * @property {string} color
 */

/**
 * @typedef {object} CueData
 * @property {string} id
 * @property {string} title
 * @property {boolean} free
 * @property {number} downbeat picture seconds of bar 1 beat 1 (a free cue: its start)
 * @property {number} first picture seconds of its first click (the count-off), or its start
 * @property {number} end picture seconds of its end
 * @property {Click[]} clicks in time order
 * @property {Tempo[]} tempos in time order
 * @property {Hit[]} hits in time order
 */

/** Where a cue is at one position: filled by `at`. */
export class MusicNow {
  constructor() {
    /** @type {'before' | 'countoff' | 'music' | 'free' | 'after'} */
    this.phase = 'before';
    this.bar = 0;
    this.beat = 0;
    /** Clicks in the current bar. */
    this.beats = 0;
    /** True on a downbeat click (beat 1, accented). */
    this.accent = false;
    /** Warning clicks left into the first bar played, the current one included (count-off only). */
    this.countdown = 0;
    /** The bar the count-off leads into: 1, or a pickup's bar after its count-in. */
    this.into = 1;
    /** Seconds since the downbeat (negative before it). */
    this.seconds = 0;
    /** Seconds since the current click (Infinity before the first). */
    this.sinceClick = Infinity;
    /** Index into `tempos` of the tempo now (−1: none). */
    this.tempo = -1;
    /** Index into `hits` of the next hit (−1: none left). */
    this.hit = -1;
    /** Seconds to the next hit. */
    this.toHit = 0;
  }
}

/**
 * The last index of a sorted array whose `time` is at or before `t` (−1: none).
 * @param {{time: number}[]} rows
 * @param {number} t
 * @returns {number}
 */
export function lastAtOrBefore(rows, t) {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid].time <= t + 1e-9) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * Clicks in each click's bar, counted once for the whole cue.
 * @param {Click[]} clicks
 * @returns {Int32Array}
 */
export function beatsPerBar(clicks) {
  const out = new Int32Array(clicks.length);
  let i = 0;
  while (i < clicks.length) {
    let j = i;
    while (j < clicks.length && clicks[j].bar === clicks[i].bar) j++;
    out.fill(j - i, i, j);
    i = j;
  }
  return out;
}

/** A cue's music, asked by picture position. */
export class CueMusic {
  /** @param {CueData} cue */
  constructor(cue) {
    this.cue = cue;
    this.perBar = beatsPerBar(cue.clicks);
    this.warnings = cue.clicks.filter((c) => c.kind === 'warning').length;
    const into = cue.clicks.find((c) => c.kind !== 'warning');
    /** The bar the count-off (or a pickup's count-in) leads into. */
    this.into = into?.bar ?? 1;
    /** Seconds from the downbeat of the click it leads into: the count-off is at the tempo in force there. */
    this.intoTime = into?.time ?? 0;
  }

  /**
   * Fill `out` for picture position `p` (seconds).
   * @param {number} p
   * @param {MusicNow} out
   * @returns {MusicNow}
   */
  at(p, out) {
    const c = this.cue;
    const rel = p - c.downbeat;
    out.seconds = rel;
    out.tempo = lastAtOrBefore(c.tempos, rel);
    const h = lastAtOrBefore(c.hits, rel) + 1;
    out.hit = h < c.hits.length ? h : -1;
    out.toHit = out.hit >= 0 ? c.hits[out.hit].time - rel : 0;
    out.bar = 0;
    out.beat = 0;
    out.beats = 0;
    out.accent = false;
    out.countdown = 0;
    out.into = this.into;
    out.sinceClick = Infinity;
    if (p >= c.end) out.phase = 'after';
    else if (p < c.first) out.phase = 'before';
    else if (c.free) out.phase = 'free';
    else {
      const i = lastAtOrBefore(c.clicks, rel);
      if (i < 0) {
        out.phase = 'before';
        return out;
      }
      const k = c.clicks[i];
      out.bar = k.bar;
      out.beat = k.beat;
      out.beats = this.perBar[i];
      out.accent = k.kind === 'accent';
      out.sinceClick = rel - k.time;
      out.phase = k.kind === 'warning' ? 'countoff' : 'music';
      if (out.phase === 'countoff') {
        out.countdown = this.warnings - i;
        out.tempo = lastAtOrBefore(c.tempos, this.intoTime);
      }
    }
    return out;
  }

  /**
   * Bars from `now` to the next hit's bar (null for a free cue or a hit without a bar).
   * @param {MusicNow} now
   * @returns {number | null}
   */
  barsToHit(now) {
    if (now.hit < 0) return null;
    const hit = this.cue.hits[now.hit];
    if (hit.bar === null || now.phase !== 'music') return null;
    return hit.bar - now.bar;
  }
}

/**
 * Tempo as musicians read it: "120 · 4/4" (clicks per minute to a tenth when it is not whole).
 * @param {Tempo} t
 * @returns {string}
 */
export function tempoText(t) {
  const cpm = Math.abs(t.cpm - Math.round(t.cpm)) < 0.05 ? String(Math.round(t.cpm)) : t.cpm.toFixed(1);
  return `${cpm} · ${t.meter}${t.click !== meterUnit(t.meter) ? ` in ${t.click}` : ''}`;
}

/**
 * The note value of a meter's denominator as the breakdown writes click units ('4/4' → '4').
 * @param {string} meter
 * @returns {string}
 */
function meterUnit(meter) {
  return meter.split('/')[1] ?? '';
}

/**
 * The next tempo or meter change after `index`, in words: "bar 17: accel. to 101 · 4/4".
 * @param {Tempo[]} tempos
 * @param {number} index the tempo now
 * @returns {string}
 */
export function nextChangeText(tempos, index) {
  const next = tempos[index + 1];
  if (next === undefined) return '';
  const how = next.rampKind ? `${next.rampKind} over ${next.ramp} to ` : '';
  return `bar ${next.bar}: ${how}${tempoText(next)}`;
}

/**
 * The next hit in words: "door slams — bar 12 beat 3, in 2 bars".
 * @param {CueMusic} music
 * @param {MusicNow} now
 * @returns {string}
 */
export function nextHitText(music, now) {
  if (now.hit < 0) return '';
  const hit = music.cue.hits[now.hit];
  const where = hit.bar === null ? '' : ` — bar ${hit.bar}${hit.beat !== null && hit.beat !== 1 ? ` beat ${fmtBeat(hit.beat)}` : ''}`;
  const bars = music.barsToHit(now);
  let when;
  if (bars !== null && bars > 0) when = `in ${bars} ${bars === 1 ? 'bar' : 'bars'}`;
  else when = `in ${secondsText(now.toHit)}`;
  return `${hit.label || 'hit'}${where}, ${when}`;
}

/**
 * @param {number} beat
 * @returns {string}
 */
function fmtBeat(beat) {
  return Number.isInteger(beat) ? String(beat) : beat.toFixed(2).replace(/0+$/, '');
}

/**
 * Seconds for a person: "4.2 s", "1:05.0".
 * @param {number} s
 * @returns {string}
 */
export function secondsText(s) {
  return `${clockText(s)}${Math.abs(s) < 60 ? ' s' : ''}`;
}

/**
 * A clock of seconds to a tenth: "12.3", "1:05.0", "−0.5".
 * @param {number} s
 * @returns {string}
 */
export function clockText(s) {
  const sign = s < 0 ? '−' : '';
  const tenths = Math.floor(Math.abs(s) * 10 + 1e-6);
  const whole = Math.floor(tenths / 10);
  const min = Math.floor(whole / 60);
  const sec = whole % 60;
  const frac = tenths % 10;
  return min > 0 ? `${sign}${min}:${String(sec).padStart(2, '0')}.${frac}` : `${sign}${sec}.${frac}`;
}

/**
 * Cue data from the REST answers: the cue with its breakdown, and its clicks.
 * @param {Record<string, any>} cue GET /api/cues/{id}
 * @param {Record<string, any>[]} clicks GET /api/cues/{id}/clicks
 * @returns {CueData}
 */
export function cueData(cue, clicks) {
  const b = cue.breakdown ?? {};
  return {
    id: String(cue.id),
    title: String(cue.title ?? ''),
    free: Boolean(cue.free),
    downbeat: Number(cue.downbeat),
    first: Number(cue.first),
    end: Number(cue.end_position),
    clicks: clicks.map((c) => ({ time: Number(c.time), bar: Number(c.bar), beat: Number(c.beat), kind: String(c.kind) })),
    tempos: (b.tempos ?? []).map((/** @type {Record<string, any>} */ t) => ({
      bar: Number(t.bar),
      time: Number(t.time.seconds),
      cpm: Number(t.clicks_per_minute),
      meter: String(t.meter),
      click: String(t.click),
      ramp: Number(t.ramp),
      rampKind: String(t.ramp_kind ?? ''),
    })),
    hits: (b.hits ?? []).map((/** @type {Record<string, any>} */ h) => ({
      label: String(h.label ?? ''),
      time: Number(h.time.seconds),
      bar: h.bar === null ? null : Number(h.bar),
      beat: h.beat === null ? null : Number(h.beat),
      color: String(h.color ?? 'white'),
    })),
  };
}
