#!/usr/bin/env bash
# Creates (once) the Python virtual environment the interoperability tests use:
# the official MCP Python SDK, schemathesis, and the phase_memory client from
# clients/python. Prints the venv's python on stdout.
#
#   scripts/py-env.sh            # -> /path/to/target/py-venv/bin/python
#
# The venv lives under the cargo target dir ($CARGO_TARGET_DIR or ./target), so
# `cargo clean` removes it. Versions are pinned; a stamp file makes reruns cheap.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$TARGET_DIR/py-venv"
PY="${PYTHON:-python3}"
PINS="mcp==2.3.0 schemathesis==4.32.5"
STAMP="$VENV/.phase-memory-stamp"
WANT="$PINS $(cat clients/python/pyproject.toml clients/python/phase_memory/*.py | cksum)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/python" ]; then
  echo "$VENV/bin/python"
  exit 0
fi

command -v "$PY" >/dev/null || { echo "py-env: $PY not found (Python 3.10+ is needed)" >&2; exit 1; }
"$PY" - <<'PYEOF' >&2 || { echo "py-env: Python 3.10 or newer is needed" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PYEOF

mkdir -p "$TARGET_DIR"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PINS >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e clients/python >&2
echo "$WANT" > "$STAMP"
echo "$VENV/bin/python"
