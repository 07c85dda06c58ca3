#!/usr/bin/env bash
# The database servers the tests start for themselves (on free ports, in temporary folders):
# Debian's PostgreSQL, pgbouncer and Redis. Installs them once; nothing is left running.
set -euo pipefail
missing=()
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v redis-server >/dev/null || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian's ${missing[*]} for the tests…"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's package starts a cluster of its own; the tests never use it.
if command -v pg_lsclusters >/dev/null; then
  $sudo pg_ctlcluster --force "$(pg_lsclusters -h | awk 'NR==1{print $1}')" main stop 2>/dev/null || true
fi
# Likewise Debian's redis-server and pgbouncer services, where an init system started them.
for service in redis-server pgbouncer; do
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $sudo systemctl stop "$service" 2>/dev/null || true
  elif command -v service >/dev/null; then
    $sudo service "$service" stop >/dev/null 2>&1 || true
  fi
done
