// The engineer's console (/engineer): the take log live (edit in place with the store's version check, export),
// the stage's health at a glance (the current picture and an import under way among it), pairing codes for the
// tablets, and mode and transport as on the conductor's page.

import { showAnswer } from './lib/answer.js';
import { $, ControlPage } from './lib/console.js';
import { importLine, pictureLine, takeRevisions } from './lib/cutstatus.js';
import { STATUS_TEXT, TakeLog, changedMarks, durationText, marksOf, rebaseMarks } from './lib/takelog.js';
import { CHANGED } from './lib/state.js';
import { clockView } from './lib/timesource.js';

/** @typedef {import('./lib/takelog.js').TakeRow} TakeRow */
/** @typedef {import('./lib/takelog.js').TakeMarks} TakeMarks */
/** @typedef {import('./lib/takelog.js').LogEntry} LogEntry */

/** Seconds between two looks at the health endpoints. */
const HEALTH_EVERY = 2;
/** A screen unheard of for this long is named as not answering (pages sync every few seconds). */
const SILENT_AFTER = 15;
/** How long a screen that left stays named. */
const GONE_FOR = 600;

const page = new ControlPage('engineer', ['transport', 'cue', 'session', 'schedule', 'take', 'sync', 'clients', 'picture']);
const log = new TakeLog();
/** Takes being edited: id → the editor row (kept across redraws of the table). */
/** @type {Map<number, {row: HTMLElement, base: number, opened: TakeMarks}>} */
const editors = new Map();
/** How long a row's flash lasts (engineer.css `fresh`), ms. */
const FLASH_MS = 2000;
/** @type {Map<number, number>} takes just logged or changed: id → when its row's flash began (a row made again
 * meanwhile goes on with it) */
const flashing = new Map();

async function loadTakes() {
  try {
    const r = await fetch('/api/takes');
    if (r.ok) {
      log.load((await r.json()).takes);
      log.announce(page.state.session.take); // a take still being recorded, not stored yet, stays on show
    }
  } catch {
    // the link's state says so
  }
  showLog();
}

/** @type {import('./lib/cutstatus.js').PictureInfo | null} the current picture's record (GET /api/picture) */
let picture = null;
/** @type {import('./lib/cutstatus.js').ImportEvent | null} the latest word on an import (the picture topic) */
let importing = null;

/** The current picture's record, read again whenever the session names another revision. */
async function loadPicture() {
  const wanted = page.state.session.picture?.revision ?? null;
  if ((picture?.revision ?? null) === wanted) return;
  try {
    const r = await fetch('/api/picture');
    picture = r.ok ? await r.json() : null;
  } catch {
    picture = null; // the link's state says so
  }
  showLog();
  showHealth();
}

page.onmessage = (/** @type {import('./lib/protocol.js').ServerMessage} */ msg, /** @type {number} */ changed) => {
  if (msg.type === 'welcome') {
    void loadTakes();
    showArm();
    return;
  }
  if (msg.type === 'snapshot') importing = msg.state.picture ?? null;
  if (msg.type === 'event' && msg.topic === 'picture') {
    importing = /** @type {import('./lib/cutstatus.js').ImportEvent} */ (msg.data);
    showHealth();
  }
  if (changed & CHANGED.SESSION) {
    void loadPicture();
    // The take being recorded is on the session the moment picture rolls, as the musicians see it: its row shows
    // at once, pending, and becomes kept when its take event says the take log has it (docs/screens.md).
    log.announce(page.state.session.take);
  }
  if (msg.type === 'event' && msg.topic === 'take') {
    const row = log.apply(msg.data);
    if (row !== null) flashing.set(row.id, performance.now());
  }
  if (changed & (CHANGED.SESSION | CHANGED.TRANSPORT)) showArm();
  if (changed & (CHANGED.SESSION | CHANGED.TRANSPORT | CHANGED.TAKE)) showLog();
  if (changed & (CHANGED.SESSION | CHANGED.TRANSPORT)) showHealth();
};
page.onaccess = () => {
  showArm();
  showHealth();
};

// -- the take log ---------------------------------------------------------------------------------------------

// The export menu closes once a file is chosen, and when a touch lands anywhere else.
const exportMenu = /** @type {HTMLDetailsElement} */ ($('export'));
exportMenu.addEventListener('click', (ev) => {
  if (ev.target instanceof Element && ev.target.closest('a') !== null) exportMenu.open = false;
});
document.addEventListener('pointerdown', (ev) => {
  if (exportMenu.open && ev.target instanceof Node && !exportMenu.contains(ev.target)) exportMenu.open = false;
});

/**
 * Where a line of the log stands: rolling, ended, left rolling by a crash (end unknown) for a kept take; a pending
 * one (not in the take log yet) is rolling or stopped.
 * @param {LogEntry} e @returns {'rolling' | 'unknown' | 'ended' | 'stopped'}
 */
function takeState(e) {
  const t = e.take;
  const now = page.rollingTake();
  if (!e.kept) return now && now.cue === t.cue && now.take === t.take ? 'rolling' : 'stopped';
  if (t.ended_at !== null && t.ended_at !== undefined) return 'ended';
  return now && now.id === t.id ? 'rolling' : 'unknown';
}

/**
 * Whether a line is in the take log: kept; pending (announced, its write on its way); or not stored (the database
 * refused a write and the stage keeps retrying: GET /api/health's takes.unstored).
 * @param {LogEntry} e @returns {'yes' | 'pending' | 'unstored'}
 */
function keptState(e) {
  if (e.kept) return 'yes';
  return Number(page.state.session.unstored ?? 0) > 0 ? 'unstored' : 'pending';
}

/** The log's scroll box: it stays at the newest take while the engineer has left it there (as a log does). */
const logBox = $('log-scroll');
let atNewest = true;
logBox.addEventListener('scroll', () => {
  atNewest = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 24;
}, { passive: true });
/** The newest line when the log was last drawn (a new one brings the box to it). */
let newestKey = '';

/** Lines on show: entry key → its row and what it was drawn from (a row is made again only when that changes). */
/** @type {Map<string, {tr: HTMLElement, drawn: string}>} */
const drawnRows = new Map();
let drawnSummary = '';

/**
 * The take log on the page.  A take event or a roll changes a line or two: only those rows are made again and only
 * new ones are put in, so the log costs the same with 5 takes as with 500, and what a take event changes is on
 * screen in the same frame.
 */
function showLog() {
  const filter = /** @type {HTMLSelectElement} */ ($('filter'));
  const cues = [...new Set([...page.follow.cues.map((c) => c.id), ...log.list().map((r) => r.cue)])];
  if (filter.options.length !== cues.length + 1) {
    const keep = filter.value;
    filter.replaceChildren(new Option('all cues', ''), ...cues.map((c) => new Option(c, c)));
    filter.value = keep;
  }
  showSummary();
  const entries = log.entries(filter.value || undefined);
  const picture = page.state.session.picture?.revision ?? null;
  /** @type {Node[]} */
  const want = [];
  const on = new Set();
  for (const e of entries) {
    const state = takeState(e);
    const kept = keptState(e);
    const ed = e.kept && e.take.id !== null ? editors.get(e.take.id) : undefined;
    const drawn = JSON.stringify([e.take, state, kept, ed !== undefined, picture]);
    let line = drawnRows.get(e.key);
    if (line === undefined || line.drawn !== drawn) {
      line = { tr: takeRow(e, state, kept), drawn };
      drawnRows.set(e.key, line);
    }
    on.add(e.key);
    want.push(line.tr);
    if (ed !== undefined) want.push(ed.row);
  }
  for (const key of drawnRows.keys()) if (!on.has(key)) drawnRows.delete(key);
  // In order, moving or adding only what is not where it belongs, then dropping what is left over.
  const body = $('rows');
  let at = body.firstChild;
  for (const node of want) {
    if (node === at) at = at.nextSibling;
    else body.insertBefore(node, at);
  }
  while (at !== null) {
    const next = at.nextSibling;
    at.remove();
    at = next;
  }
  $('no-takes').hidden = entries.length > 0;
  const newest = entries.length > 0 ? entries[entries.length - 1].key : '';
  if (newest !== newestKey) {
    newestKey = newest;
    // Scrolled at the next frame, when the new row is laid out anyway (reading its height now would lay the page
    // out inside the message's handler).
    if (atNewest) requestAnimationFrame(() => { logBox.scrollTop = logBox.scrollHeight; });
  }
  const now = performance.now();
  for (const [id, since] of flashing) if (now - since > FLASH_MS) flashing.delete(id);
}

/** Per cue: how many takes are in the take log, and the best (made again only when the words change). */
function showSummary() {
  const chips = [...log.summary()].map(([cue, s]) => [`${cue}: ${s.count} take${s.count === 1 ? '' : 's'}, best `,
    s.best ? `${s.best.take}${s.best.status ? ` (${STATUS_TEXT[s.best.status]})` : ''}` : '–']);
  const words = JSON.stringify(chips);
  if (words === drawnSummary) return;
  drawnSummary = words;
  $('per-cue').replaceChildren(...chips.map(([text, bestText]) => {
    const chip = document.createElement('span');
    chip.className = 'chip';
    chip.textContent = text;
    const best = document.createElement('b');
    best.textContent = bestText;
    chip.append(best);
    return chip;
  }));
}

/**
 * @param {LogEntry} e
 * @param {ReturnType<typeof takeState>} state
 * @param {ReturnType<typeof keptState>} kept
 */
function takeRow(e, state, kept) {
  const t = e.take;
  const tr = document.createElement('div');
  tr.className = 'take';
  tr.setAttribute('role', 'row');
  tr.dataset.id = t.id === null ? '' : String(t.id);
  tr.dataset.status = t.status ?? '';
  tr.dataset.state = state;
  tr.dataset.kept = kept;
  const since = t.id !== null ? flashing.get(t.id) : undefined;
  if (since !== undefined) {
    // A row made again while it flashes (its take changed once more) goes on with the flash where it was.
    tr.dataset.fresh = '';
    tr.style.setProperty('--flashed', `${Math.round(since - performance.now())}ms`);
  }
  const status = state === 'rolling' ? '● ROLLING' : state === 'unknown' ? 'left rolling: end unknown' : t.status ? STATUS_TEXT[t.status] ?? t.status : '';
  const cells = [t.cue, String(t.take), t.pickup_bar ? `bar ${t.pickup_bar}` : '', t.wild ? 'wild' : '', status, t.tc_in, t.tc_out ?? '', durationText(t.duration), t.time_of_day];
  const classes = ['cue', 'no', 'pickup', 'wild', 'status', 'tc-in', 'tc-out', 'dur', 'time'];
  cells.forEach((text, i) => {
    const td = cell();
    td.className = classes[i];
    td.textContent = text;
    tr.append(td);
  });
  if (kept !== 'yes') {
    // Said in words under the status, not by colour alone: this take is not in the take log (yet).
    const word = document.createElement('div');
    word.className = 'kept';
    word.textContent = kept === 'pending' ? 'logging…' : 'NOT STORED yet: the stage retries';
    /** @type {HTMLElement} */ (tr.querySelector('.status')).append(word);
  }
  const notes = cell();
  notes.className = 'notes';
  // First what it was recorded against, the cue's revision and the picture's (an earlier cut said in words): in
  // the notes' cell, which wraps, as a desk's 1440 px leave the log no room for another column.
  const revs = takeRevisions(/** @type {TakeRow} */ (t), page.state.session.picture?.revision);
  const rev = document.createElement('div');
  rev.className = 'rev';
  const texts = [revs.cue, revs.picture, ...(revs.earlier ? ['earlier cut'] : [])];
  texts.forEach((text, i) => {
    const part = document.createElement('span'); // each whole on its line: the dot stays with the text before it
    part.textContent = i < texts.length - 1 ? `${text} ·` : text;
    if (i === 2) part.className = 'earlier';
    rev.append(...(i ? [' ', part] : [part]));
  });
  notes.append(rev);
  for (const n of t.notes ?? []) {
    const line = document.createElement('div');
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = `${n.role}: `;
    line.append(who, n.text);
    notes.append(line);
  }
  tr.append(notes);
  const td = cell();
  const id = t.id;
  if (e.kept && id !== null) {
    // A take is edited once it is in the take log (an edit goes by its id).
    const edit = document.createElement('button');
    edit.type = 'button';
    edit.className = 'edit';
    edit.textContent = editors.has(id) ? 'Editing' : 'Edit';
    edit.dataset.needs = 'take_edit';
    edit.disabled = !page.may('take_edit');
    edit.addEventListener('click', () => openEditor(id));
    td.append(edit);
  }
  tr.append(td);
  return tr;
}

/** @returns {HTMLElement} one cell of a take's row */
function cell() {
  const td = document.createElement('div');
  td.setAttribute('role', 'cell');
  return td;
}

/** @param {number} id */
function openEditor(id) {
  const t = log.rows.get(id);
  if (t === undefined || editors.has(id)) return;
  const row = document.createElement('div');
  row.className = 'editing';
  row.setAttribute('role', 'row');
  row.dataset.id = String(id);
  row.append(/** @type {HTMLTemplateElement} */ ($('editor-template')).content.cloneNode(true));
  const form = field(row);
  showMarks(form, marksOf(t));
  editors.set(id, { row, base: t.version, opened: marksOf(t) });
  showBase(row, t);
  /** @type {HTMLElement} */ (row.querySelector('.cancel')).addEventListener('click', () => {
    editors.delete(id);
    showLog();
  });
  const save = /** @type {HTMLButtonElement} */ (row.querySelector('.save'));
  save.disabled = !page.may('take_edit');
  save.addEventListener('click', () => void saveEdit(id, save));
  showLog();
  form.note.focus();
}

/** @param {HTMLElement} row */
function field(row) {
  return {
    status: /** @type {HTMLSelectElement} */ (row.querySelector('[name=status]')),
    pickup: /** @type {HTMLInputElement} */ (row.querySelector('[name=pickup_bar]')),
    wild: /** @type {HTMLInputElement} */ (row.querySelector('[name=wild]')),
    note: /** @type {HTMLTextAreaElement} */ (row.querySelector('[name=note]')),
    conflict: /** @type {HTMLElement} */ (row.querySelector('.conflict')),
  };
}

/** @param {ReturnType<typeof field>} f @param {TakeMarks} m */
function showMarks(f, m) {
  f.status.value = m.status ?? '';
  f.pickup.value = m.pickup_bar ? String(m.pickup_bar) : '';
  f.wild.checked = m.wild;
}

/** @param {ReturnType<typeof field>} f @returns {TakeMarks} what the editor's fields say */
function formMarks(f) {
  return { status: f.status.value || null, pickup_bar: f.pickup.value.trim() === '' ? null : Number(f.pickup.value), wild: f.wild.checked };
}

/** @param {HTMLElement} row @param {TakeRow} t */
function showBase(row, t) {
  /** @type {HTMLElement} */ (row.querySelector('.base')).textContent = `${t.cue} take ${t.take} · editing version ${editors.get(t.id)?.base ?? t.version}`;
}

/**
 * Send the fields the user changed, against the version the editor was opened on; on a conflict, show the other
 * change, take it into the fields the user left alone, and keep the user's own for saving on top.
 * @param {number} id
 * @param {HTMLElement} button
 */
async function saveEdit(id, button) {
  const ed = editors.get(id);
  const t = log.rows.get(id);
  if (ed === undefined || t === undefined) return;
  const f = field(ed.row);
  /** @type {Record<string, unknown>} */
  const args = { take: id, expected_version: ed.base, ...changedMarks(ed.opened, formMarks(f)) };
  if (f.note.value.trim()) args.note = f.note.value.trim();
  if (Object.keys(args).length === 2) {
    showAnswer(button, { ok: false, code: 'refused', message: 'nothing changed' });
    return;
  }
  const answer = await page.act(button, 'take_edit', args);
  if (answer.ok) {
    editors.delete(id);
    showLog();
    return;
  }
  if (answer.code !== 'conflict') return;
  // Someone else changed the take: show what they did, keep this edit, and let it go on top of theirs.
  let lines = [];
  let version = ed.base;
  try {
    const r = await fetch(`/api/takes/${id}`);
    const got = await r.json();
    const row = got.take;
    log.apply({ take: row });
    version = row.version;
    const rebased = rebaseMarks(ed.opened, formMarks(f), marksOf(row));
    ed.opened = rebased.opened;
    showMarks(f, rebased.form);
    lines = got.history.slice(ed.base).map((/** @type {any} */ e) => `${e.role} set ${e.field === 'note' ? 'a note' : e.field}: ${e.new ?? 'nothing'}`);
  } catch {
    lines = ['(the take could not be read again: try saving once more)'];
  }
  ed.base = version;
  f.conflict.hidden = false;
  const title = document.createElement('strong');
  title.textContent = `Changed meanwhile by someone else (now version ${version}). Your edit is kept below: Save puts it on top.`;
  const list = document.createElement('div');
  list.textContent = lines.join(' · ');
  f.conflict.replaceChildren(title, list);
  const now = log.rows.get(id);
  if (now !== undefined) showBase(ed.row, now);
  showLog();
}

$('filter').addEventListener('change', () => showLog());

// -- arm ------------------------------------------------------------------------------------------------------

function showArm() {
  const select = /** @type {HTMLSelectElement} */ ($('arm'));
  const ids = page.follow.cues.map((c) => c.id);
  if (select.options.length !== ids.length + 1) select.replaceChildren(new Option('nothing', ''), ...ids.map((c) => new Option(c, c)));
  select.value = page.state.armed ?? '';
  $('rehearse').setAttribute('aria-pressed', String(page.state.session.mode !== 'record'));
}
$('arm').addEventListener('change', (ev) => {
  const select = /** @type {HTMLSelectElement} */ (ev.target);
  void page.act(select, 'arm', { cue: select.value || null }).then(() => showArm());
});

// -- health ---------------------------------------------------------------------------------------------------

/** @type {Record<string, any>} */
let health = {};
/** @type {Record<string, any>} */
let status = { clients: [], departed: [] };
let healthOk = false;

async function pollHealth() {
  try {
    const [h, s] = await Promise.all([fetch('/api/health'), fetch('/api/status')]);
    health = await h.json();
    status = await s.json();
    healthOk = true;
  } catch {
    healthOk = false;
  }
  showHealth();
}

/** @param {string} k @param {string} v @param {boolean | null} ok */
function item(k, v, ok) {
  const dt = document.createElement('dt');
  dt.textContent = k;
  const dd = document.createElement('dd');
  dd.textContent = v;
  if (ok !== null) dd.dataset.ok = ok ? 'yes' : 'no';
  return [dt, dd];
}

/** @param {string} text @param {boolean} [warn] */
function alertLine(text, warn = false) {
  const d = document.createElement('div');
  d.className = warn ? 'alert warn' : 'alert';
  d.textContent = text;
  return d;
}

/** What the health panel was last drawn from. */
let drawnHealth = '';

function showHealth() {
  const tr = page.state.transport;
  const link = page.conn.state === 'open';
  // A roll or a session change rarely changes what the panel says: it is drawn again only when its inputs change.
  const inputs = JSON.stringify([link, tr.midi, tr.engine, tr.source, tr.sync, page.state.session.picture, page.state.session.unstored, picture, importing, health, status]);
  if (inputs === drawnHealth) return;
  drawnHealth = inputs;
  const alerts = [];
  const items = [];
  items.push(...item('stage', link ? 'connected' : 'NO CONNECTION — reconnecting', link));
  items.push(...item('MIDI / JACK', tr.midi ? 'JACK MIDI live' : 'no JACK MIDI (soft clock)', Boolean(tr.midi)));
  const engine = tr.engine;
  if (engine) {
    const up = engine.state === 'running' || engine.state === 'disabled';
    items.push(...item('click engine', `${engine.state}${engine.restarts ? ` — restarted ${engine.restarts}×` : ''}`, up));
    if (!up) alerts.push(alertLine(`The click engine is ${engine.state}${engine.reason ? `: ${engine.reason}` : ''}`));
  }
  const clock = clockView(tr);
  items.push(...item('timecode', clock.detail, clock.ok));
  const current = page.state.session.picture;
  items.push(...item('picture', pictureLine(current && picture?.revision === current.revision ? picture : current), null));
  const cut = importLine(importing);
  if (cut !== null) items.push(...item(cut.state === 'busy' ? 'import' : 'last import', cut.text, cut.state === 'busy' ? null : cut.state === 'done'));
  const takes = health.takes;
  if (takes) {
    // The session says it the moment a write fails (pushed); the health poll every few seconds.
    const unstored = Number(page.state.session.unstored ?? takes.unstored ?? 0);
    items.push(...item('take log', `${takes.database}${unstored ? ` — ${unstored} take(s) NOT STORED yet` : ' — all stored'}`, unstored === 0));
    if (unstored) alerts.push(alertLine(`${unstored} take(s) not in the take log yet: the database is not answering`));
  } else items.push(...item('take log', healthOk ? 'none open' : '–', healthOk ? false : null));
  const broker = status.broker;
  items.push(...item('MQTT broker', broker ? `${broker.url} — ${broker.connected ? 'connected' : 'NOT CONNECTED'}` : 'not configured', broker ? broker.connected : null));
  $('health').replaceChildren(...items);
  if (!link) alerts.unshift(alertLine('No connection to the stage: this page reconnects by itself'));
  // Screens: who is here, how each draws, when last heard; who dropped out.
  const rows = [];
  const here = new Set();
  for (const c of status.clients ?? []) {
    const label = c.name || `${c.role} ${c.id}`;
    here.add(c.name || c.address);
    const d = c.draws;
    const late = d && d.count >= 3 && d.abs_p99_ms !== null && d.last && d.abs_p99_ms > Math.max(d.last.frame_ms, 8);
    const silent = c.seen_ago > SILENT_AFTER;
    if (late) alerts.push(alertLine(`${label} draws late: p99 ${d.abs_p99_ms.toFixed(1)} ms off its time (${d.off_frame} of ${d.count} off their frame)`, true));
    if (silent) alerts.push(alertLine(`${label} (${c.address}) has not been heard from for ${Math.round(c.seen_ago)} s`));
    rows.push(screenRow(`${label} · ${c.role}`, c.address, d?.last ? `±${d.last.sync_ms.toFixed(2)} ms` : '–',
      d ? `${d.late_p50_ms >= 0 ? '+' : ''}${d.late_p50_ms?.toFixed(1)} ms, p99 ${d.abs_p99_ms?.toFixed(1)} (${d.count})` : '–',
      `${c.seen_ago.toFixed(1)} s ago`, late ? 'late' : silent ? 'gone' : 'ok'));
  }
  const gone = new Set();
  for (const c of [...(status.departed ?? [])].reverse()) {
    const key = c.name || c.address;
    // Screens only: a control page that closed (signed in, or read-only) is not a screen dropping out.
    if (c.left_ago > GONE_FOR || here.has(key) || gone.has(key) || c.role !== 'musician' || / page \(read-only\)$/.test(c.name)) continue;
    gone.add(key);
    alerts.push(alertLine(`DROPPED: ${c.name || 'unnamed screen'} (${c.address}) left ${Math.round(c.left_ago)} s ago`));
    rows.push(screenRow(`${c.name || 'unnamed'} · ${c.role}`, c.address, '–', '–', `left ${Math.round(c.left_ago)} s ago`, 'gone'));
  }
  $('alerts').replaceChildren(...alerts);
  $('screen-rows').replaceChildren(...rows);
}

/** @param {string[]} cells */
function screenRow(...cells) {
  const state = cells.pop() ?? 'ok';
  const tr = document.createElement('tr');
  tr.dataset.state = state;
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

setInterval(() => void pollHealth(), HEALTH_EVERY * 1000);
void pollHealth();

// -- pairing --------------------------------------------------------------------------------------------------

/** @type {ReturnType<typeof setInterval> | null} */
let pairTimer = null;
$('pair').addEventListener('click', async () => {
  const role = /** @type {HTMLSelectElement} */ ($('pair-role')).value;
  const answer = await page.act($('pair'), 'pair', { role });
  if (!answer.ok) return;
  const until = performance.now() + answer.data.expires_in * 1000;
  const code = String(answer.data.code);
  /** @type {string[]} the page's addresses on the stage network, the code after '#' (none: loopback only) */
  const urls = Array.isArray(answer.data.urls) ? answer.data.urls : [];
  const qr = /** @type {HTMLImageElement} */ ($('pair-qr'));
  if (typeof answer.data.qr === 'string') qr.src = answer.data.qr;
  qr.hidden = typeof answer.data.qr !== 'string';
  $('pair-code').hidden = false;
  $('pair-digits').textContent = `${code.slice(0, 3)} ${code.slice(3)}`;
  const how = role === 'editor'
    ? "The editor's tools exchange it for the token: POST /api/pair (docs/rest.md)."
    : urls.length > 0
      ? `On the tablet: scan this, or open ${urls[0].split('#')[0]}, touch Sign in and type the code.`
      : `This stage answers on this machine only ([http] host is a loopback address): a tablet cannot reach it. Here: open ${location.host}/${role}, touch Sign in and type the code.`;
  // Over HTTPS a tablet that does not trust the stage's authority yet would meet a warning: say where it gets it.
  const trust = typeof answer.data.trust === 'string' && role !== 'editor'
    ? ` A tablet new to this stage first trusts it: ${answer.data.trust} (docs/tls.md).`
    : '';
  if (pairTimer !== null) clearInterval(pairTimer);
  const tick = () => {
    const left = Math.max(0, Math.round((until - performance.now()) / 1000));
    $('pair-hint').textContent = left > 0 ? `${how} Works once, ${left} s left.${trust}` : 'Expired: show a new code.';
    if (left === 0) {
      qr.hidden = true; // a spent or expired code's picture signs nobody in
      if (pairTimer !== null) clearInterval(pairTimer);
    }
  };
  tick();
  pairTimer = setInterval(tick, 1000);
});

void page.start();
