#!/usr/bin/env bash
# Rebuild pywhispercpp (and the whisper.cpp inside it) from its PyPI source
# distribution with a GPU backend, into the active Python environment.
#
#   vendor/build-pywhispercpp.sh cuda     # NVIDIA: needs the CUDA toolkit (nvcc) on PATH
#   vendor/build-pywhispercpp.sh vulkan   # any vendor: needs Vulkan headers, loader and glslc
#   vendor/build-pywhispercpp.sh cpu      # back to a CPU-only build
#
# pywhispercpp's build passes GGML_* environment variables to whisper.cpp's
# CMake, so the backend is chosen by exporting GGML_CUDA / GGML_VULKAN.
# Then `lumina devices` lists the backend as available and Engine(device="auto")
# uses it, falling back to the CPU with a warning if it cannot initialise.
set -euo pipefail

backend=${1:-}
version=${PYWHISPERCPP_VERSION:-1.5.1}
python=${PYTHON:-python3}

case "$backend" in
  cuda)
    command -v nvcc >/dev/null || { echo "nvcc not found: install the CUDA toolkit first" >&2; exit 2; }
    export GGML_CUDA=1
    # Build only for the GPU in this machine unless told otherwise (much faster than all archs).
    export CMAKE_CUDA_ARCHITECTURES=${CMAKE_CUDA_ARCHITECTURES:-native}
    ;;
  vulkan)
    command -v glslc >/dev/null || { echo "glslc not found: install the Vulkan SDK / shaderc first" >&2; exit 2; }
    export GGML_VULKAN=1
    ;;
  cpu) ;;
  *)
    echo "usage: $0 cuda|vulkan|cpu" >&2
    exit 2
    ;;
esac

"$python" -m pip install --force-reinstall --no-deps --no-cache-dir \
  --no-binary pywhispercpp "pywhispercpp==${version}"
"$python" - <<'PY'
from lumina import devices
for d in devices():
    print(f"{d.name:<7} {'available' if d.available else 'not available'}")
PY
