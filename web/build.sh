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
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo ">> installing the web app's pinned npm dependencies (web/package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
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
