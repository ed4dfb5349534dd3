#!/usr/bin/env bash
# Lint, type-check, and run the whole test suite against the real peers.
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m ruff check stage tests bench clients || exit 1
python3 -m mypy || exit 1
# The browser pages: JSDoc types checked by the pinned TypeScript, then the pure modules' tests.
node_modules/.bin/tsc -p clients/web/tsconfig.json || exit 1
node --test clients/web/test/ || exit 1
python3 -m pytest -q -p no:cacheprovider --durations=25 "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  # pytest's "no tests collected": say so plainly rather than fail on it
  echo "no tests ran"
  echo "0 passed, 0 failed"
  exit 0
fi
exit "$rc"
