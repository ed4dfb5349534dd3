#!/usr/bin/env bash
# Installs what stage and its tests need on a fresh Debian machine, and starts
# the local services the tests talk to. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
have jackd          || need_apt+=(jackd2)
have xjadeo         || need_apt+=(xjadeo)
have Xvfb           || need_apt+=(xvfb)
have ffmpeg         || need_apt+=(ffmpeg)
have oscdump        || need_apt+=(liblo-tools)
have mosquitto      || need_apt+=(mosquitto)
have mosquitto_sub  || need_apt+=(mosquitto-clients)
have chromium       || need_apt+=(chromium)
have firefox-esr    || need_apt+=(firefox-esr)       # Firefox's engine: the pages' smoke tests and frame check
have WebKitWebDriver || need_apt+=(webkit2gtk-driver)  # Safari's engine (WebKitGTK's MiniBrowser), driven by Selenium
# WebKitGTK decodes the picture's H.264 through GStreamer: avdec_h264 and the parsers.
have_pkg gstreamer1.0-libav || need_apt+=(gstreamer1.0-libav)
have_pkg gstreamer1.0-plugins-good || need_apt+=(gstreamer1.0-plugins-good)
have_pkg gstreamer1.0-plugins-bad || need_apt+=(gstreamer1.0-plugins-bad)
have psql           || need_apt+=(postgresql-client)
have openssl        || need_apt+=(openssl)
have node           || need_apt+=(nodejs)
have npm            || need_apt+=(npm)
have pdftoppm       || need_apt+=(poppler-utils)
have zbarimg        || need_apt+=(zbar-tools)
have midicsv        || need_apt+=(midicsv)
have ip             || need_apt+=(iproute2)        # the HTTPS tests' second host: a network namespace
have certutil       || need_apt+=(libnss3-tools)   # its browser trusts the stage's authority through NSS
have promtool       || need_apt+=(prometheus)      # checks and unit-tests deploy/prometheus/stage-alerts.yml
have systemd-analyze || need_apt+=(systemd)       # verifies deploy/stage.service
have ardour7-lua    || need_apt+=(ardour)   # the timecode master the MMC tests drive, run headless
[ -e /usr/include/jack/jack.h ] || need_apt+=(libjack-jackd2-dev)
ldconfig -p | grep -c 'libltc\.so\.11' >/dev/null || need_apt+=(libltc11)  # LTC in and out (adapters/libltc.py)
[ -e /usr/include/ltc.h ] || need_apt+=(libltc-dev)                 # the binding's tests compile against ltc.h
have gcc            || need_apt+=(gcc)
[ -e /usr/include/stdio.h ] || need_apt+=(libc6-dev)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need_apt+=(fonts-dejavu-core)  # the movie's text

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
   || ! python3 -c "import jack, mido, pythonosc, fastapi, aiomqtt, sqlalchemy, asyncpg, aiosqlite, pytest, hypothesis, playwright, rtmidi, schemathesis, paho.mqtt, jsonschema, PIL, tomlkit, reportlab, pypdf, segno, prometheus_client, cryptography, numpy, pycmx, selenium, opentimelineio, otio_cmx3600_adapter, otio_fcp_adapter, otio_fcpx_xml_adapter, otio_aaf_adapter, aaf2, av" 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check -e ".[dev]"
fi

# The pages' type checker and Puppeteer (it drives Firefox ESR: no browser of its own), pinned by package-lock.json.
if [ ! -x node_modules/.bin/tsc ] || [ ! -d node_modules/puppeteer-core ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

# Local services the tests use (started only when not running).
if have pg_ctlcluster && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  mosquitto -d -c /etc/mosquitto/mosquitto.conf 2>/dev/null || mosquitto -d
fi
echo "setup: ok"
