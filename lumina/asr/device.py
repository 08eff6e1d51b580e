"""Which compute devices the installed whisper.cpp can use, and which one to ask for.

whisper.cpp is built with zero or more GPU backends (CUDA, Vulkan, Metal);
pywhispercpp's wheels on PyPI are CPU-only, and ``vendor/`` has recipes to
build one with GPU backends. Whether a GPU actually works is only known once
whisper.cpp initialises it, which the engine checks when it loads a model.
"""

from __future__ import annotations

import dataclasses

from lumina.asr.backend import compiled_gpu_backends, system_info
from lumina.errors import DeviceError

__all__ = ["DeviceInfo", "DevicePlan", "check_device_request", "choose_device", "devices"]

_GPU_KINDS = ("cuda", "vulkan", "metal")
_REQUESTS = ("auto", "cpu", "gpu") + _GPU_KINDS


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """A device lumina knows about.

    Attributes
    ----------
    name : str
        ``"cpu"``, ``"cuda"``, ``"vulkan"`` or ``"metal"``.
    available : bool
        Whether the installed whisper.cpp was built with this backend.
    detail : str
        CPU features for the CPU; for a GPU, what is missing or how it is
        checked.
    """

    name: str
    available: bool
    detail: str


@dataclasses.dataclass(frozen=True)
class DevicePlan:
    """How to load a model for a device request."""

    use_gpu: bool
    warn_on_cpu: bool  # a GPU was expected; ending up on the CPU deserves a warning
    reason: str


def devices() -> list[DeviceInfo]:
    """Every device kind, CPU first, with whether this installation can use it.

    Examples
    --------
    >>> [d.name for d in devices()]
    ['cpu', 'cuda', 'vulkan', 'metal']
    """
    built = compiled_gpu_backends()
    cpu_features = system_info().split("CPU :", 1)[-1].strip(" |")
    found = [DeviceInfo("cpu", True, cpu_features)]
    for kind in _GPU_KINDS:
        if kind in built:
            detail = "backend built in; whether a device initialises is checked when a model loads"
        else:
            detail = (f"the installed whisper.cpp has no {kind.upper()} backend; "
                      "see vendor/README.md to build one")
        found.append(DeviceInfo(kind, kind in built, detail))
    return found


def check_device_request(request) -> str:
    """Return ``request`` if it names a device kind, else raise DeviceError listing the kinds."""
    if not isinstance(request, str) or request not in _REQUESTS:
        raise DeviceError(f"unknown device {request!r}; use one of {', '.join(_REQUESTS)}")
    return request


def choose_device(request: str) -> DevicePlan:
    """Turn ``Engine(device=...)`` into load settings.

    Raises
    ------
    DeviceError
        An unknown request, or a named GPU backend the installation lacks.
    """
    check_device_request(request)
    built = compiled_gpu_backends()
    if request == "cpu":
        return DevicePlan(False, False, "CPU requested")
    if request == "auto":
        if built:
            return DevicePlan(True, True, f"{'/'.join(built)} backend built in")
        return DevicePlan(False, False, "no GPU backend built in")
    wanted = built if request == "gpu" else [k for k in built if k == request]
    if not wanted:
        what = "a GPU backend" if request == "gpu" else f"the {request.upper()} backend"
        raise DeviceError(f"device={request!r} needs {what}, but the installed whisper.cpp has "
                          f"{'/'.join(built) or 'none'}; build pywhispercpp with it (vendor/README.md) "
                          "or use device='auto' or 'cpu'")
    return DevicePlan(True, True, f"{request} requested")
