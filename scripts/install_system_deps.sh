#!/usr/bin/env bash
# Installs the Debian packages the portal needs, only those that are missing.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v msgfmt >/dev/null || need+=(gettext)
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
if [ "${WITH_POSTGRES:-0}" = "1" ]; then
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
fi
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then need+=(python3-venv); fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing system packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
