// The conductor's tablet (/conductor): the musicians' view across the top, the cue list (arm with one touch),
// rehearse/record, transport with a bar keypad, and the take that rolls or just ended with one-touch status and notes.

import { showAnswer } from './lib/answer.js';
import { $, ControlPage, HOLD_MS } from './lib/console.js';
import { STATUS_TEXT, TakeLog, durationText } from './lib/takelog.js';
import { CHANGED } from './lib/state.js';

const page = new ControlPage('conductor', ['transport', 'cue', 'session', 'schedule', 'take']);
const log = new TakeLog();

async function loadTakes() {
  try {
    const r = await fetch('/api/takes');
    if (r.ok) log.load((await r.json()).takes);
  } catch {
    // shown when the link comes back
  }
  showCues();
  showTake();
}

page.onmessage = (/** @type {import('./lib/protocol.js').ServerMessage} */ msg, /** @type {number} */ changed) => {
  if (msg.type === 'welcome') {
    void loadTakes();
    return;
  }
  if (msg.type === 'event' && msg.topic === 'take') log.apply(msg.data);
  if (changed & (CHANGED.SESSION | CHANGED.TAKE | CHANGED.TRANSPORT)) {
    showCues();
    showTake();
  }
};
page.onaccess = () => showTake();

/** @type {string} what the cue list shows now */
let cuesShown = '';

function showCues() {
  const summary = log.summary();
  const armed = page.state.armed;
  const key = JSON.stringify([armed, page.follow.cues.map((c) => c.id), [...summary].map(([k, v]) => [k, v.count, v.circled])]);
  if (key === cuesShown) return;
  cuesShown = key;
  const list = $('cues');
  list.replaceChildren();
  for (const c of page.follow.cues) {
    const s = summary.get(c.id);
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'cue';
    b.dataset.cue = c.id;
    b.dataset.needs = 'arm';
    b.setAttribute('aria-pressed', String(c.id === armed));
    const id = document.createElement('span');
    id.className = 'id';
    id.textContent = c.id;
    const title = document.createElement('span');
    title.className = 'title';
    title.textContent = c.title;
    const takes = document.createElement('span');
    takes.className = 'takes';
    takes.textContent = s ? `${s.count} take${s.count === 1 ? '' : 's'}` : 'no takes';
    if (s && s.circled) {
      const circ = document.createElement('b');
      circ.textContent = ` ◯ ${s.best?.take ?? ''}`;
      takes.append(document.createElement('br'), circ);
    }
    b.append(id, title, takes);
    if (c.id === armed) {
      // The way out is said where the finger is: a second touch "to make sure" keeps the cue armed.
      const hint = document.createElement('span');
      hint.className = 'hint';
      hint.textContent = 'ARMED · hold to disarm';
      b.append(hint);
    }
    bindCue(b, c.id);
    list.append(b);
  }
  page.access();
}

/**
 * A cue in the list: a touch arms it; on the armed cue a touch changes nothing (a second touch "to make sure" is
 * common on a podium) and a press held for HOLD_MS disarms it, the button filling as it is held.
 * @param {HTMLButtonElement} b
 * @param {string} cue
 */
function bindCue(b, cue) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let held = false;
  const cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    delete b.dataset.holding;
  };
  b.addEventListener('pointerdown', () => {
    held = false;
    if (b.disabled || cue !== page.state.armed) return;
    b.dataset.holding = '';
    timer = setTimeout(() => {
      timer = null;
      held = true;
      delete b.dataset.holding;
      void page.act(b, 'arm', { cue: null });
    }, HOLD_MS);
  });
  b.addEventListener('pointerup', cancel);
  b.addEventListener('pointercancel', cancel);
  b.addEventListener('pointerleave', cancel);
  b.addEventListener('contextmenu', (ev) => ev.preventDefault());
  b.addEventListener('click', () => {
    if (held) {
      held = false; // the hold has disarmed: its release is no touch
      return;
    }
    if (cue === page.state.armed) showAnswer(b, { ok: null, message: `${cue} stays armed: hold it to disarm`, hint: true });
    else void page.act(b, 'arm', { cue });
  });
}

/** The take the status buttons act on: the one rolling, else the latest. */
function currentTake() {
  const rolling = page.rollingTake();
  if (rolling && typeof rolling.id === 'number') return log.rows.get(rolling.id) ?? /** @type {any} */ (rolling);
  return log.latest();
}

function showTake() {
  const s = page.state.session;
  $('rehearse').setAttribute('aria-pressed', String(s.mode !== 'record'));
  const t = currentTake();
  const now = page.rollingTake();
  const rolling = Boolean(now && t && now.id === t.id);
  document.body.dataset.take = rolling ? 'rolling' : t ? 'ended' : 'none';
  $('take-heading').textContent = rolling ? 'Take rolling' : t ? 'Last take' : 'Take';
  $('take-label').textContent = t ? `${t.cue} take ${t.take}${t.pickup_bar ? ` · pickup bar ${t.pickup_bar}` : ''}${t.wild ? ' · wild' : ''}` : s.next_take ? `next: ${s.armed} take ${s.next_take}` : 'no take yet';
  $('take-detail').textContent = t
    ? [`${t.tc_in} → ${t.tc_out ?? (rolling ? 'rolling' : 'end unknown')}`, durationText(t.duration), t.status ? STATUS_TEXT[t.status] ?? t.status : 'no status yet',
        t.notes?.length ? `${t.notes.length} note${t.notes.length > 1 ? 's' : ''}` : ''].filter(Boolean).join(' · ')
    : '';
  for (const b of document.querySelectorAll('[data-status]')) {
    b.setAttribute('aria-pressed', String(t !== null && t.status === /** @type {HTMLElement} */ (b).dataset.status));
    if (t === null) /** @type {HTMLButtonElement} */ (b).disabled = true;
  }
}

for (const b of document.querySelectorAll('[data-status]')) {
  b.addEventListener('click', () => {
    const t = currentTake();
    const el = /** @type {HTMLElement} */ (b);
    if (t === null) {
      showAnswer(el, { ok: false, code: 'refused', message: 'no take yet' });
      return;
    }
    void page.act(el, 'take_status', { status: el.dataset.status, take: t.id });
  });
}

/** @param {HTMLElement} el @param {string} text */
async function note(el, text) {
  const t = currentTake();
  if (t === null) {
    showAnswer(el, { ok: false, code: 'refused', message: 'no take yet: a note needs a take' });
    return false;
  }
  const a = await page.act(el, 'note', { text, take: t.id });
  return a.ok;
}

$('note-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('note'));
  if (!input.value.trim()) return;
  if (await note($('note-send'), input.value.trim())) input.value = '';
});
for (const b of document.querySelectorAll('.phrase')) {
  b.addEventListener('click', () => void note(/** @type {HTMLElement} */ (b), b.textContent ?? ''));
}

void page.start();
