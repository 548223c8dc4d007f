"""Pick the compute device: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import os
from typing import Any

import torch

from .errors import SettingsError


def pick(preference: str = "auto") -> torch.device:
    """The device to run on.  ``auto`` prefers CUDA, then MPS, then CPU; naming one that is absent is
    an error."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device 'cuda' was asked for but no CUDA GPU is available; use --device auto")
    if preference == "mps" and not _mps_available():
        raise SettingsError("device 'mps' was asked for but Apple MPS is not available; use --device auto")
    return torch.device(preference)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Reduced precision for the optimiser's encoder passes, where the hardware has it natively.

    bfloat16 on CPUs with native bf16 instructions (AVX512-BF16 or AMX: about 2x faster, gradients within
    1-2 %), bfloat16 or float16 on CUDA; None (float32) elsewhere.  oneDNN also "supports" bf16 on plain
    AVX-512 CPUs by emulating it, which is about 2.5x *slower* than float32: only the instruction sets
    count.  ``ARTSHADE_PRECISION=fp32`` turns it off.  Reports and measurements always run in float32.
    """
    if os.environ.get("ARTSHADE_PRECISION", "auto").lower() in {"fp32", "float32"}:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and native_cpu_bf16():
        return torch.bfloat16
    return None


def native_cpu_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has bf16 arithmetic in hardware (Linux: the avx512_bf16 or amx_bf16 flag)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def describe(preference: str = "auto") -> dict[str, Any]:
    """What the engine would run on, for status displays."""
    device = pick(preference)
    precision = autocast_dtype(device)
    info: dict[str, Any] = {
        "type": device.type,
        "name": "CPU",
        "torch": torch.__version__,
        "precision": str(precision).removeprefix("torch.") if precision else "float32",
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(name=props.name, memory_gb=round(props.total_memory / 2**30, 1))
    elif device.type == "mps":
        info["name"] = "Apple GPU (MPS)"
    else:
        info["threads"] = torch.get_num_threads()
        info["cores"] = os.cpu_count()
    return info


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
