"""Reduced precision only where the CPU has it in hardware: emulated bf16 is slower than float32."""

from __future__ import annotations

import pytest
import torch
from artshade.shading import device

XEON_AVX512 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl avx512_vnni\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"


def test_plain_avx512_runs_float32_even_where_onednn_claims_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not device.native_cpu_bf16(XEON_AVX512)
    assert device.native_cpu_bf16(SAPPHIRE)
    monkeypatch.setattr(device, "native_cpu_bf16", lambda cpuinfo=None: False)
    monkeypatch.setenv("ARTSHADE_PRECISION", "auto")
    assert device.autocast_dtype(torch.device("cpu")) is None


def test_native_bf16_is_used_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "native_cpu_bf16", lambda cpuinfo=None: True)
    monkeypatch.setenv("ARTSHADE_PRECISION", "auto")
    assert device.autocast_dtype(torch.device("cpu")) is torch.bfloat16
    monkeypatch.setenv("ARTSHADE_PRECISION", "fp32")
    assert device.autocast_dtype(torch.device("cpu")) is None
