#!/usr/bin/env bash
# Installs what stage and its tests need on a fresh Debian machine, and starts
# the local services the tests talk to. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have jackd          || need_apt+=(jackd2)
have xjadeo         || need_apt+=(xjadeo)
have Xvfb           || need_apt+=(xvfb)
have ffmpeg         || need_apt+=(ffmpeg)
have oscdump        || need_apt+=(liblo-tools)
have mosquitto      || need_apt+=(mosquitto)
have mosquitto_sub  || need_apt+=(mosquitto-clients)
have chromium       || need_apt+=(chromium)
have psql           || need_apt+=(postgresql-client)
have openssl        || need_apt+=(openssl)
have node           || need_apt+=(nodejs)
have npm            || need_apt+=(npm)
have pdftoppm       || need_apt+=(poppler-utils)
have zbarimg        || need_apt+=(zbar-tools)
[ -e /usr/include/jack/jack.h ] || need_apt+=(libjack-jackd2-dev)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing system packages: ${need_apt[*]} (run as root or install them)" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # jackd2 asks about realtime priority through debconf: answer for it.
  echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Python packages: the project itself (from THIS checkout) and its development tools.
here="$(pwd -P)/stage"
installed="$(cd / && python3 -c 'import os, stage; print(os.path.dirname(os.path.realpath(stage.__file__)))' 2>/dev/null || true)"
if [ "$installed" != "$here" ] \
   || ! python3 -c "import jack, mido, pythonosc, fastapi, aiomqtt, sqlalchemy, asyncpg, aiosqlite, pytest, hypothesis, playwright, rtmidi, schemathesis, paho.mqtt, jsonschema, PIL, tomlkit, reportlab, pypdf, segno" 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check -e ".[dev]"
fi

# The pages' type checker, pinned by package-lock.json.
if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# Local services the tests use (started only when not running).
if have pg_ctlcluster && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  mosquitto -d -c /etc/mosquitto/mosquitto.conf 2>/dev/null || mosquitto -d
fi
echo "setup: ok"
