#!/usr/bin/env bash
# Starts a private Redis, one inference worker per device found, and the web server (gunicorn,
# as in production).
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${DEMO_PORT:-8000}"
REDIS_PORT="${DEMO_REDIS_PORT:-6390}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:${REDIS_PORT}/0}"
# As in production: DEBUG off, static files collected and served by the app (WhiteNoise).
export DJANGO_DEBUG="${DJANGO_DEBUG:-0}"
mkdir -p var/redis var/log
$PY manage.py collectstatic --noinput -v 0

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "Stopping the demo..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/var/redis" \
  --appendonly yes --save "" --protected-mode yes >var/log/redis.log 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

devices=(cpu)
if command -v nvidia-smi >/dev/null 2>&1; then
  while read -r idx; do devices+=("cuda:$idx"); done < <(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null || true)
fi
for dev in "${devices[@]}"; do
  $PY manage.py inference_worker --device "$dev" >"var/log/worker-${dev/:/-}.log" 2>&1 &
  pids+=($!)
done

$PY -m gunicorn config.wsgi --bind "127.0.0.1:${PORT}" --worker-class gthread --workers 2 \
  --threads 8 --access-logfile - >var/log/web.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:${PORT}/login/" && break; sleep 0.2; done

cat <<MSG

  Model validation portal: http://127.0.0.1:${PORT}/
  Demo login: demo / demo-pass-2026   (staff: admin / admin-pass-2026)
  Workers: ${devices[*]}   Logs: var/log/   Stop: Ctrl-C

MSG
wait -n "${pids[@]}" || true
echo "A demo process exited; see var/log/."
