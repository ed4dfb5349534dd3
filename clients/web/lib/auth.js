// Sign-in for the control pages: a role's token, entered once (or got for a pairing code) and kept by this browser.
// Never in the URL: a pairing code may arrive in the URL's fragment (it works once, for two minutes) and is taken
// out of the address at once.  Pure but for the storage and fetch given.

/**
 * @typedef {{getItem(k: string): string | null, setItem(k: string, v: string): void, removeItem(k: string): void}} Store
 */

/**
 * @param {string} role
 * @returns {string}
 */
export function tokenKey(role) {
  return `stage.token.${role}`;
}

/**
 * The token this browser keeps for `role` ('' when none).
 * @param {Store | null} store
 * @param {string} role
 * @returns {string}
 */
export function keptToken(store, role) {
  try {
    return store?.getItem(tokenKey(role)) ?? '';
  } catch {
    return '';
  }
}

/**
 * @param {Store | null} store
 * @param {string} role
 * @param {string} token '' forgets it
 */
export function keepToken(store, role, token) {
  try {
    if (token) store?.setItem(tokenKey(role), token);
    else store?.removeItem(tokenKey(role));
  } catch {
    // private mode: the token lasts for this visit only
  }
}

/**
 * True when `text` looks like a pairing code (six digits, spaces allowed) rather than a token.
 * @param {string} text
 * @returns {boolean}
 */
export function isPairingCode(text) {
  return /^\d{6}$/.test(text.replace(/\s+/g, ''));
}

/**
 * The pairing code in a URL fragment (`#pair=123456`), or ''.
 * @param {string} hash location.hash
 * @returns {string}
 */
export function codeInHash(hash) {
  const m = /(?:^#|&)pair=(\d{6})(?:&|$)/.exec(hash);
  return m === null ? '' : m[1];
}

/**
 * Exchange a pairing code for a role and token.
 * @param {string} code
 * @param {typeof fetch} [fetcher]
 * @returns {Promise<{ok: true, role: string, token: string} | {ok: false, message: string}>}
 */
export async function redeem(code, fetcher = fetch) {
  try {
    const r = await fetcher('/api/pair', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: code.replace(/\s+/g, '') }),
    });
    const body = await r.json();
    if (r.ok && typeof body.token === 'string') return { ok: true, role: body.role, token: body.token };
    return { ok: false, message: typeof body.detail === 'string' ? body.detail : `the stage answered ${r.status}` };
  } catch {
    return { ok: false, message: 'the stage did not answer: is this tablet on the stage network?' };
  }
}
