// Server time from the /ws clock-sync exchange (docs/ws.md, "Clock sync").  Pure: every time is an argument.
//
// Each exchange gives a round trip δ and an offset θ (server ≈ client + θ).  The page sends bursts of a few
// exchanges; the one with the smallest δ in a burst is the burst's best (its θ is wrong by at most δ/2).  The
// bests of the last bursts give the offset (the best of the recent ones) and, once they span long enough,
// the drift between the two clocks (a least-squares line), so the estimate follows drift between bursts.

/** @typedef {{delay: number, offset: number, at: number}} Sample  offset θ and round trip δ at client time `at` */

/** Exchanges in one burst. */
export const BURST = 12;
/** Seconds between bursts. */
export const INTERVAL = 4;
/** Bursts whose bests are kept for the drift line. */
export const KEEP = 8;
/** Bursts among the latest whose best round trip picks the offset. */
export const RECENT = 4;
/** Drift is fitted once the kept bests span this many seconds. */
export const DRIFT_SPAN = 20;
/** Largest uncertainty (half the best round trip, seconds) at which the clock is trusted to draw. */
export const MAX_UNCERTAINTY = 0.008;
/** Seconds without a good burst after which the clock is no longer trusted. */
export const STALE = 3 * INTERVAL + 2;
/** A burst whose offset is this far (seconds) from the prediction means another clock: start again. */
export const JUMP = 0.05;

/**
 * One exchange: client t0 (sent) and t3 (received), server t1 (read) and t2 (written).
 * @param {number} t0
 * @param {number} t1
 * @param {number} t2
 * @param {number} t3
 * @returns {Sample}
 */
export function exchange(t0, t1, t2, t3) {
  return { delay: t3 - t0 - (t2 - t1), offset: (t1 - t0 + (t2 - t3)) / 2, at: (t0 + t3) / 2 };
}

/** How well the page knows the server's clock. */
export class ClockQuality {
  constructor() {
    /** True when streamers may be drawn from this clock. */
    this.trusted = false;
    /** Server minus client time (seconds). */
    this.offset = 0;
    /** The best round trip behind the offset (seconds). */
    this.delay = Infinity;
    /** Drift of the server's clock against the client's (seconds per second). */
    this.drift = 0;
    /** Seconds since the last burst that counted. */
    this.age = Infinity;
    /** Why it is not trusted ('' when it is). */
    this.reason = 'not synchronised yet';
  }
}

/** The clock filter: feed it exchanges, close bursts, ask it for server time. */
export class ClockSync {
  constructor() {
    /** @type {Sample[]} bests of the kept bursts, oldest first */
    this.bests = [];
    /** @type {Sample | null} the best exchange of the burst under way */
    this.current = null;
    /** @type {Sample | null} the best that anchors the estimate */
    this.base = null;
    this.drift = 0;
  }

  /** Forget everything (a new connection may reach another server). */
  reset() {
    this.bests.length = 0;
    this.current = null;
    this.base = null;
    this.drift = 0;
  }

  /**
   * Count one exchange of the burst under way.
   * @param {number} t0
   * @param {number} t1
   * @param {number} t2
   * @param {number} t3
   * @returns {Sample}
   */
  add(t0, t1, t2, t3) {
    const s = exchange(t0, t1, t2, t3);
    if (s.delay >= 0 && (this.current === null || s.delay < this.current.delay)) this.current = s;
    return s;
  }

  /** Close the burst under way: its best joins the kept bests and the estimate is made again. */
  endBurst() {
    const best = this.current;
    this.current = null;
    if (best === null) return;
    if (this.base !== null && Math.abs(best.offset - this.offsetAt(best.at)) > JUMP) this.bests.length = 0;
    this.bests.push(best);
    if (this.bests.length > KEEP) this.bests.shift();
    this.fit();
  }

  /** @private */
  fit() {
    const n = this.bests.length;
    let base = this.bests[n - 1];
    for (let i = Math.max(0, n - RECENT); i < n; i++) if (this.bests[i].delay < base.delay) base = this.bests[i];
    this.base = base;
    this.drift = 0;
    if (n < 3 || this.bests[n - 1].at - this.bests[0].at < DRIFT_SPAN) return;
    // Least squares of offset against time, each best weighted by 1/δ² (a short round trip is a tight bound).
    let sw = 0;
    let sx = 0;
    let sy = 0;
    for (const s of this.bests) {
      const w = 1 / Math.max(s.delay, 1e-5) ** 2;
      sw += w;
      sx += w * s.at;
      sy += w * s.offset;
    }
    const mx = sx / sw;
    const my = sy / sw;
    let sxx = 0;
    let sxy = 0;
    for (const s of this.bests) {
      const w = 1 / Math.max(s.delay, 1e-5) ** 2;
      sxx += w * (s.at - mx) ** 2;
      sxy += w * (s.at - mx) * (s.offset - my);
    }
    if (sxx > 0) this.drift = sxy / sxx;
  }

  /**
   * Server minus client time at client time `t` (0 before the first burst).
   * @param {number} t
   * @returns {number}
   */
  offsetAt(t) {
    const b = this.base;
    return b === null ? 0 : b.offset + this.drift * (t - b.at);
  }

  /**
   * Server time at client time `t`.
   * @param {number} t
   * @returns {number}
   */
  toServer(t) {
    return t + this.offsetAt(t);
  }

  /**
   * Client time at server time `s`.
   * @param {number} s
   * @returns {number}
   */
  toClient(s) {
    const b = this.base;
    if (b === null) return s;
    // s = t + θ + drift (t − at)  ⇒  t = (s − θ + drift·at) / (1 + drift)
    return (s - b.offset + this.drift * b.at) / (1 + this.drift);
  }

  /**
   * Fill `out` with how far the clock can be trusted at client time `now`.
   * @param {number} now
   * @param {ClockQuality} [out]
   * @returns {ClockQuality}
   */
  quality(now, out = new ClockQuality()) {
    const b = this.base;
    const last = this.bests.length ? this.bests[this.bests.length - 1] : null;
    out.offset = this.offsetAt(now);
    out.delay = b === null ? Infinity : b.delay;
    out.drift = this.drift;
    out.age = last === null ? Infinity : now - last.at;
    if (b === null) out.reason = 'not synchronised yet';
    else if (b.delay / 2 > MAX_UNCERTAINTY) out.reason = `round trip ${(b.delay * 1000).toFixed(1)} ms is too long`;
    else if (out.age > STALE) out.reason = `no clock sync for ${Math.round(out.age)} s`;
    else out.reason = '';
    out.trusted = out.reason === '';
    return out;
  }
}
