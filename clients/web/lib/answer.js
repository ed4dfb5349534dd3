// Every command's answer shown where the finger is: a bubble on the button that was touched, saying done, refused
// and why, or no connection.  DOM only; what to say comes from commands.js.

import { doneText, refusalTitle } from './commands.js';

/** Milliseconds a "done" stays; a refusal stays until the next touch or a few seconds more. */
const DONE_MS = 1600;
const REFUSED_MS = 6000;

/**
 * Show `answer` on `target` (a button or any element); the bubble is a child of the body placed over it.
 * @param {HTMLElement} target
 * @param {import('./commands.js').Answer | {ok: null, message: string, hint?: boolean}} answer ok null: still waiting;
 *   a hint (how to do what was tried) goes after a while like a refusal
 */
export function showAnswer(target, answer) {
  const old = bubbles.get(target);
  if (old !== undefined) old.remove();
  const b = document.createElement('div');
  b.className = 'answer';
  b.setAttribute('role', 'status');
  b.dataset.ok = answer.ok === null ? 'wait' : answer.ok ? 'yes' : 'no';
  if (answer.ok === true) b.textContent = doneText(answer.data);
  else if (answer.ok === null) b.textContent = answer.message;
  else {
    const title = document.createElement('strong');
    title.textContent = `✗ ${refusalTitle(answer.code)}`;
    const why = document.createElement('span');
    why.textContent = answer.message;
    b.append(title, why);
    b.dataset.code = answer.code;
  }
  document.body.append(b);
  const r = target.getBoundingClientRect();
  const w = b.offsetWidth;
  const h = b.offsetHeight;
  let left;
  let top;
  if (answer.ok !== false && w < r.width) {
    // Done (or waiting): a badge on the button's own corner, covering no other target.
    left = r.right - w - 6;
    top = r.top - h / 2;
  } else {
    // A refusal has words to read: above the finger when there is room (a finger hides what is under it).
    left = Math.max(4, Math.min(innerWidth - w - 4, r.left + r.width / 2 - w / 2));
    top = r.top - h - 8 >= 4 ? r.top - h - 8 : Math.min(innerHeight - h - 4, r.bottom + 8);
  }
  b.style.left = `${left}px`;
  b.style.top = `${top}px`;
  bubbles.set(target, b);
  target.dataset.answer = b.dataset.ok;
  if (answer.ok === null && answer.hint !== true) return;
  setTimeout(() => {
    b.remove();
    if (bubbles.get(target) === b) {
      bubbles.delete(target);
      delete target.dataset.answer;
    }
  }, answer.ok === true ? DONE_MS : REFUSED_MS);
}

/** @type {Map<HTMLElement, HTMLElement>} */
const bubbles = new Map();
