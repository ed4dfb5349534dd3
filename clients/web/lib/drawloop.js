// When a screen draws: at every display refresh while something on it moves (picture rolling, a flash fading),
// and otherwise only when something may have changed — a message, the link, the clock, the settings — and a few
// times a second to look again.  A stopped stage then costs its screens almost nothing: a tablet's battery lasts the
// day, and the pages sharing a machine leave its cores to whichever page has something to show.

/** Milliseconds between two looks while nothing moves (a warning shows within this). */
export const REST_MS = 250;

export class DrawLoop {
  /**
   * @param {(raf: number, steady: boolean) => boolean} draw draws the frame for rAF time `raf` (`steady`: the frame
   *   before was the previous refresh, so the two times tell the refresh interval); true while something moves
   * @param {{request?: (fn: (t: number) => void) => unknown, later?: (fn: () => void, ms: number) => unknown,
   *   cancel?: (handle: any) => void}} [host] the page's requestAnimationFrame, setTimeout and clearTimeout
   */
  constructor(draw, host = {}) {
    this.draw = draw;
    this.request = host.request ?? ((fn) => requestAnimationFrame(fn));
    this.later = host.later ?? ((fn, ms) => setTimeout(fn, ms));
    this.cancel = host.cancel ?? ((handle) => clearTimeout(handle));
    /** A refresh is asked for. */
    this.pending = false;
    /** The last frame asked for the next refresh. */
    this.moving = false;
    /** @type {unknown} the timer of the next look while resting */
    this.rest = null;
    this.frames = 0;
    this.tick = (/** @type {number} */ raf) => this.run(raf);
  }

  /** Draw at the next refresh (something may have changed). */
  wake() {
    if (this.rest !== null) {
      this.cancel(this.rest);
      this.rest = null;
    }
    if (this.pending) return;
    this.pending = true;
    this.request(this.tick);
  }

  /**
   * @private
   * @param {number} raf
   */
  run(raf) {
    this.pending = false;
    const steady = this.moving;
    this.frames++;
    this.moving = this.draw(raf, steady);
    if (this.moving) {
      this.pending = true;
      this.request(this.tick);
    } else if (!this.pending && this.rest === null) {
      this.rest = this.later(() => {
        this.rest = null;
        this.wake();
      }, REST_MS);
    }
  }
}
