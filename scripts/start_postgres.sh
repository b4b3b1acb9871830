#!/usr/bin/env bash
# Starts Debian's PostgreSQL on loopback (installing it if missing) and makes the test role.
# Prints the DATABASE_URL to use.
set -euo pipefail
DB="${1:-portal}"
FRESH="${2:-}"
WITH_POSTGRES=1 "$(dirname "$0")/install_system_deps.sh" >&2
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
SUDO=""
AS_PG=(sudo -u postgres)
if [ "$(id -u)" = "0" ]; then AS_PG=(runuser -u postgres --); else SUDO="sudo"; fi
if ! pg_lsclusters -h | grep -q "^$version main"; then
  $SUDO pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | grep -q "^$version main .* online"; then
  $SUDO pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
for _ in $(seq 50); do
  "${AS_PG[@]}" psql -p "$port" -qAtc "select 1" >/dev/null 2>&1 && break
  sleep 0.2
done
"${AS_PG[@]}" psql -p "$port" -qAtc \
  "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portal') THEN
     CREATE ROLE portal LOGIN SUPERUSER PASSWORD 'portal-test'; END IF; END \$\$;" >&2
if [ "$FRESH" = "--fresh" ]; then "${AS_PG[@]}" dropdb -p "$port" --if-exists "$DB" >&2; fi
"${AS_PG[@]}" psql -p "$port" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$DB'" \
  | grep -q 1 || "${AS_PG[@]}" createdb -p "$port" -O portal "$DB" >&2
echo "postgres://portal:portal-test@127.0.0.1:${port}/${DB}"
