#!/usr/bin/env bash
# Quick start, command two: set up and run every check — type check, lint, build, tests.
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
kb_install
bash "$KB_ROOT/scripts/redis.sh" ensure
cd "$KB_ROOT"
pnpm run --silent typecheck
pnpm run --silent lint
pnpm run --silent build
exec pnpm run --silent test "$@"
