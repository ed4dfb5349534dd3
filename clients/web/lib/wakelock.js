// The screen kept awake (the Screen Wake Lock API: a secure origin only), asked again whenever the page is shown
// or touched, since a browser drops the lock when the page is hidden and may refuse it before a user gesture.

/** @type {WakeLockSentinel | null} */
let wakeLock = null;

/** Ask for the lock now (nothing when it is held, unsupported, or the page is hidden). */
export async function keepAwake() {
  if (wakeLock !== null || !('wakeLock' in navigator) || document.visibilityState !== 'visible') return;
  try {
    wakeLock = await navigator.wakeLock.request('screen');
    wakeLock.addEventListener('release', () => {
      wakeLock = null;
    });
  } catch {
    // refused (no user gesture yet, or a power saver): asked again on the next touch
  }
}

/** Keep the screen awake from now on. */
export function stayAwake() {
  document.addEventListener('visibilitychange', () => void keepAwake());
  document.addEventListener('pointerdown', () => void keepAwake());
  void keepAwake();
}
