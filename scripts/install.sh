#!/usr/bin/env bash
# Install omni_r1 and its dependencies into the Python environment of PYTHON (default: python on PATH), at the
# exact versions of constraints.txt. Used by scripts/setup.sh (into .venv) and by conda users after
# `conda env create -f environment.yml && conda activate omni_r1`: `bash scripts/install.sh python`.
#
# Order matters: torch first, so that sam2's source build finds it (no isolated build environment, CUDA extension
# off: the kit does not need it), then the kit with its dev extra.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_bin="${1:-python}"
constraints="$root/constraints.txt"
"$python_bin" -m pip install -q --upgrade pip setuptools wheel
"$python_bin" -m pip install -q -c "$constraints" torch torchvision
SAM2_BUILD_CUDA=0 "$python_bin" -m pip install -q -c "$constraints" --no-build-isolation sam2
"$python_bin" -m pip install -q -c "$constraints" -e "$root[dev]"
