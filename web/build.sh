#!/usr/bin/env bash
# Builds the web app into web/dist when it is missing or older than its sources (src/, the
# OpenAPI document its API types come from, the manifests); installs web/node_modules from the
# lock first when missing or older than the lock. Used by ./deploy.sh -e local and make.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
  echo ">> npm not found: the web app is not built (install Node.js 20+ and npm)" >&2
  exit 1
fi
# Install when the lock's content changed since the last install (a stamp of its sha256 kept in
# node_modules), not by file times: a fresh checkout or a new git worktree makes the lock "newer"
# than an install that matches it. A node_modules that is a symlink (worktrees sharing one install)
# is never reinstalled from here: npm ci would empty the shared target for every checkout using it.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.ql-lock-sha256
if [[ -L node_modules ]]; then
  if [[ ! -f node_modules/.package-lock.json ]]; then
    echo ">> web/node_modules is a symlink to $(readlink node_modules) with nothing installed: run npm ci there" >&2
    exit 1
  fi
elif [[ ! -f node_modules/.package-lock.json || ( -f $stamp && $(cat "$stamp") != "$lock_sum" ) ]]; then
  echo ">> installing the web app's pinned npm dependencies (web/package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$stamp"
elif [[ ! -f $stamp ]]; then
  # an install made before the stamp existed: taken as matching the lock from now on
  echo "$lock_sum" > "$stamp"
fi
stale=""
if [[ -f dist/index.html ]]; then
  stale=$(find src index.html package.json package-lock.json vite.config.ts tsconfig.json ../docs/openapi.json \
    -newer dist/index.html -not -name schema.d.ts -print -quit)
fi
if [[ ! -f dist/index.html || -n $stale ]]; then
  echo ">> building the web app into web/dist${stale:+ ($stale changed)}"
  npm run build --silent
fi
