#!/usr/bin/env bash
# Quick start, command one: set up (Node 24 + pnpm if needed, frozen install) and run the demo.
set -euo pipefail
source "$(dirname "$0")/toolchain.sh"
kb_install
cd "$KB_ROOT" && exec pnpm run --silent demo "$@"
