#!/usr/bin/env bash
# Sets up nnstudy in ./.venv: PyTorch's CPU build first where no torch is present, then the package.
#   scripts/setup.sh          package + test tools (as root, also Debian's chromium and postgresql for tests)
#   scripts/setup.sh --data   the package alone, for running studies; refreshes Debian's package lists
#                             when they cannot see the data packages
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
. .venv/bin/activate

if ! python -c "import torch" >/dev/null 2>&1; then
  # The CPU build; an unpinned torch can pull a multi-GB CUDA build.
  pip install -q "torch==2.13.0" || pip install -q "torch>=2.3"
fi
# An editable install leaves nnstudy's own modules without bytecode, and where PYTHONDONTWRITEBYTECODE is set
# (CI, some hosts) every process then compiles them again (0.1-0.2 s each): compiled here, as pip would.
compile_sources() { python -m compileall -q src/nnstudy >/dev/null || true; }
if [ "${1:-}" = "--data" ]; then
  pip install -q -e ".[methods]"
  compile_sources
  if command -v apt-cache >/dev/null && ! apt-cache policy dataset-fashion-mnist 2>/dev/null | grep -q "Candidate: [0-9]"; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq || true; else
      echo "note: run 'sudo apt-get update' once so that 'nnstudy data fetch' can find Debian's data packages"
    fi
  fi
  echo "nnstudy is ready: $(.venv/bin/nnstudy --help | head -1)"
  exit 0
fi
pip install -q -e ".[methods,test,docs,cluster]"  # methods: every model kind and the search; docs: mkdocs, built strictly by tests/test_docs.py; cluster: Ray, psycopg
compile_sources

# The report's browser test renders report.html in Debian's headless Chromium.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    log="$(mktemp)"
    if ! apt-cache policy chromium 2>/dev/null | grep -q "Candidate: [0-9]"; then
      apt-get update -qq >"$log" 2>&1 || true
    fi
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >>"$log" 2>&1; then
      echo "installed $(/usr/bin/chromium --version 2>/dev/null) for the browser test"
    else
      echo "note: 'apt-get install chromium' failed (log: $log); the browser test will fail under CI" >&2
    fi
  else
    echo "note: as root, this script installs Debian's chromium for the report's browser test"
  fi
fi
# The store tests start a throwaway PostgreSQL server on 127.0.0.1 (tests/pg_server.py): Debian's package.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    if ! apt-cache policy postgresql 2>/dev/null | grep -q "Candidate: [0-9]"; then apt-get update -qq || true; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
      || echo "note: 'apt-get install postgresql' failed; the PostgreSQL tests will fail under CI" >&2
  else
    echo "note: as root, this script installs Debian's postgresql for the store tests"
  fi
fi
echo "nnstudy is ready: $(.venv/bin/nnstudy --help | head -1)"
