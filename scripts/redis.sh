#!/usr/bin/env bash
# `redis.sh ensure`: makes sure `redis-server` is installed (Debian's package), so the
# Redis tests can start their own server on a loopback port. Tests never use a shared server.
set -euo pipefail
case "${1:-ensure}" in
  ensure)
    if command -v redis-server >/dev/null 2>&1; then exit 0; fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "keybrake: installing redis-server (Debian package) for the Redis tests" >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2 \
        || echo "keybrake: could not install redis-server; Redis tests will fail in CI" >&2
    else
      echo "keybrake: redis-server not found; install it (apt-get install redis-server) to run the Redis tests" >&2
    fi
    ;;
  *) echo "usage: redis.sh ensure" >&2; exit 2 ;;
esac
