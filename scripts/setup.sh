#!/usr/bin/env bash
# Sets up nnstudy in ./.venv: PyTorch's CPU build first where no torch is present, then the package.
#   scripts/setup.sh          package + test tools
#   scripts/setup.sh --data   also refreshes Debian's package lists when they cannot see the data packages
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
pip install -q -e ".[test]"

if [ "${1:-}" = "--data" ] && command -v apt-cache >/dev/null; then
  if ! apt-cache policy dataset-fashion-mnist 2>/dev/null | grep -q "Candidate: [0-9]"; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq || true; else
      echo "note: run 'sudo apt-get update' once so that 'nnstudy data fetch' can find Debian's data packages"
    fi
  fi
fi
echo "nnstudy is ready: $(.venv/bin/nnstudy --help | head -1)"
