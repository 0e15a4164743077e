#!/usr/bin/env bash
# Idempotent set-up used by `make demo` and `make test`: FFmpeg libraries for torchcodec, a .venv at the repo
# root, and the package installed with its extras at the versions of constraints.txt (scripts/install.sh).
# Re-running it is cheap: the install is skipped while pyproject.toml, constraints.txt and install.sh are unchanged.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

have_ffmpeg_libs() {
  ldconfig -p 2>/dev/null | grep -q 'libavcodec\.so' && ldconfig -p 2>/dev/null | grep -q 'libavformat\.so'
}

if ! have_ffmpeg_libs; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing FFmpeg (Debian package 'ffmpeg') for torchcodec"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "[setup] error: torchcodec needs FFmpeg's shared libraries (libavcodec, libavformat), which are missing." >&2
    echo "        Install them and re-run: 'sudo apt-get install ffmpeg' (Debian/Ubuntu)," >&2
    echo "        'conda install -c conda-forge ffmpeg' (conda) or 'brew install ffmpeg' (macOS)." >&2
    exit 1
  fi
fi

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin="$candidate"; break; fi
  done
fi
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $("$python_bin" --version 2>&1)"
  "$python_bin" -m venv .venv
fi

stamp=.venv/.omni_r1-installed
want="$(cat pyproject.toml constraints.txt scripts/install.sh | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing omni_r1 and its dependencies into .venv (first run: a few minutes)"
  bash scripts/install.sh .venv/bin/python
  echo "$want" > "$stamp"
fi
