// What the bar keypad holds: a bar, then (after the beat key) a beat in it, as "17" or "17|3". No DOM.

/** Digits a bar may have (bar 9999 is past any cue) and a beat (beat 64 is the protocol's last). */
const BAR_DIGITS = 4;
const BEAT_DIGITS = 2;

/**
 * The keypad's text after pressing `key`: a digit, `beat` (the bar is typed: the beat comes next) or `back`.
 * @param {string} text
 * @param {string} key
 * @returns {string}
 */
export function press(text, key) {
  if (key === 'back') return text.slice(0, -1);
  const [bar, beat] = text.split('|');
  if (key === 'beat') return bar !== '' && beat === undefined ? `${bar}|` : text;
  if (!/^[0-9]$/.test(key)) return text;
  if (beat === undefined) return bar.length < BAR_DIGITS ? `${bar}${key}`.replace(/^0+/, '') : text;
  return beat.length < BEAT_DIGITS ? `${bar}|${`${beat}${key}`.replace(/^0+/, '')}` : text;
}

/**
 * The bar and beat the text names (beat 1 when none was typed); null while it names none yet.
 * @param {string} text
 * @returns {{bar: number, beat: number} | null}
 */
export function barBeat(text) {
  const [bar, beat] = text.split('|');
  if (!(Number(bar) >= 1) || beat === '') return null;
  const b = beat === undefined ? 1 : Number(beat);
  return b >= 1 ? { bar: Number(bar), beat: b } : null;
}

/**
 * The text as the keypad shows it: "17", "17 | 3", "17 | _" while the beat is typed, "–" when empty.
 * @param {string} text
 */
export function shown(text) {
  if (text === '') return '–';
  const [bar, beat] = text.split('|');
  return beat === undefined ? bar : `${bar} | ${beat || '_'}`;
}
