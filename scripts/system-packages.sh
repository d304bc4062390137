#!/usr/bin/env bash
# Install and start the system parts the project needs, only when they are missing.
#   scripts/system-packages.sh run   what serving needs (WeasyPrint's libraries, fonts)
#   scripts/system-packages.sh test  that, plus Chromium and a running PostgreSQL server
#   scripts/system-packages.sh bench that, plus wrk and a running PostgreSQL server
set -euo pipefail
purpose="${1:-run}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: '$*' needs root; run it as root or install sudo" >&2; exit 1; fi
}

missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || missing+=("$1"); }

# WeasyPrint renders certificates: Pango, HarfBuzz subsetting (6x faster PDFs) and fonts that
# cover accented, right-to-left and CJK names.
for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
           fonts-noto-core fonts-noto-cjk; do need_pkg "$pkg"; done
if [ "$purpose" = test ]; then
  for pkg in chromium postgresql; do need_pkg "$pkg"; done
fi
if [ "$purpose" = bench ]; then
  for pkg in postgresql wrk; do need_pkg "$pkg"; done
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$purpose" != run ] && [ -z "${LMS_TEST_POSTGRES_URL:-}" ]; then
  # Start the local cluster when it is down, and make sure the current OS user has a
  # PostgreSQL superuser role so the tests can connect over the Unix socket (peer auth).
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  me="$(id -un)"
  if ! psql -h /var/run/postgresql -d postgres -tAc "select 1" >/dev/null 2>&1; then
    as_root runuser -u postgres -- psql -q -h /var/run/postgresql -d postgres \
      -c "CREATE ROLE \"$me\" LOGIN SUPERUSER" >/dev/null
  fi
fi
