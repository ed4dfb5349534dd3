// A page's <stage-picture> kept on the session's current picture revision, and the words it burns in.
// The session state's `picture` ({revision, …} or null) says which revision is current; its index and proxy are
// at /picture/files/<revision>/ (docs/picture.md): loaded again whenever the revision changes.

import { clockText } from './music.js';
import { countText } from './overlay.js';
import { parseIndex } from './picture-frame.js';

/** @typedef {import('./stage-picture.js').StagePicture} StagePicture */
/** @typedef {import('./stage-picture.js').Texts} Texts */
/** @typedef {import('./settings.js').Settings} Settings */

/** Seconds before a failed load is tried again. */
const RETRY = 2;

export class PictureFollower {
  /**
   * @param {StagePicture} element
   * @param {typeof fetch} [fetcher]
   */
  constructor(element, fetcher = fetch.bind(globalThis)) {
    this.element = element;
    this.fetcher = fetcher;
    /** @type {string | null | undefined} the revision shown (undefined: not told yet) */
    this.revision = undefined;
    /** @type {Texts} filled in place at every refresh */
    this.out = { left: false, centre: '', right: '', streamers: true, punches: true, flutters: true };
    this.centreKey = '';
    this.rightKey = NaN;
  }

  /**
   * The session's `picture` field, as the session topic carries it.
   * @param {unknown} picture
   */
  session(picture) {
    const p = /** @type {{revision?: unknown} | null | undefined} */ (picture);
    const revision = p !== null && p !== undefined && typeof p.revision === 'string' ? p.revision : null;
    if (revision === this.revision) return;
    this.revision = revision;
    if (revision === null) this.element.unload('NO PICTURE', 'no cut imported on the stage');
    else void this.load(revision);
  }

  /**
   * @private
   * @param {string} revision
   */
  async load(revision) {
    this.element.unload('LOADING PICTURE', revision);
    const base = `/picture/files/${encodeURIComponent(revision)}`;
    try {
      const r = await this.fetcher(`${base}/index.json`);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const index = parseIndex(await r.json());
      if (index === null) throw new Error('not an index this page can play');
      if (this.revision === revision) this.element.load(index, `${base}/proxy.mp4`);
    } catch (e) {
      if (this.revision !== revision) return;
      this.element.unload('PICTURE NOT LOADED', `revision ${revision}: ${String(e)}; trying again`);
      setTimeout(() => {
        if (this.revision === revision) void this.load(revision);
      }, RETRY * 1000);
    }
  }

  /**
   * What is burnt in and drawn over the picture at this refresh, from the settings and the music now.
   * @param {Settings} settings
   * @param {{id: string} | null} cue the cue shown
   * @param {import('./music.js').CueMusic | undefined} music its music, once loaded
   * @param {import('./music.js').MusicNow} now where the music is
   * @param {{transport: Record<string, any>, session: Record<string, any>}} state
   * @returns {Texts}
   */
  texts(settings, cue, music, now, state) {
    const out = this.out;
    out.left = settings.tc;
    out.streamers = settings.streamers;
    out.punches = settings.punches;
    out.flutters = settings.flutters;
    const take = state.transport.rolling ? state.session.take?.take : undefined;
    const id = settings.cue && cue !== null ? cue.id : '';
    const takeText = settings.take && typeof take === 'number' ? `TAKE ${take}` : '';
    const centreKey = `${id}|${takeText}`;
    if (centreKey !== this.centreKey) {
      this.centreKey = centreKey;
      out.centre = id && takeText ? `${id} · ${takeText}` : id || takeText;
    }
    // The right of the band changes with the click (or a free cue's tenth): its text is made only then.
    const key = music === undefined ? -1 : now.phase === 'music' ? now.bar * 1000 + now.beat
      : now.phase === 'countoff' ? -1000 - now.countdown : now.phase === 'free' ? 1e9 + Math.floor(now.seconds * 10) : -2;
    const rightKey = key * 8 + (settings.bars ? 1 : 0) + (settings.countoff ? 2 : 0);
    if (rightKey !== this.rightKey) {
      this.rightKey = rightKey;
      out.right = music === undefined ? '' : countText(now, settings.bars, settings.countoff, clockText);
    }
    return out;
  }
}
