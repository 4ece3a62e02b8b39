"""What the CPU offers the encoder: native bf16 matrix units and the number of physical cores."""

from __future__ import annotations

import os
from functools import lru_cache

BF16_FLAGS = ("amx_bf16", "avx512_bf16")
"""``/proc/cpuinfo`` flags of CPUs that multiply bf16 matrices in hardware: Intel AMX (Sapphire Rapids and later)
and AVX-512 BF16 (AMD Zen 4 and later, Intel Cooper Lake). Without either, bf16 is emulated and slower than fp32."""


@lru_cache(maxsize=None)
def cpuinfo_field(name: str) -> str | None:
    """The value of the first ``name`` line of ``/proc/cpuinfo`` (``None`` where there is none, e.g. not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where there are none)."""
    return frozenset((cpuinfo_field("flags") or "").split())


def model_name() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (the machine type where there is none)."""
    import platform

    return cpuinfo_field("model name") or platform.machine()


def native_bf16() -> bool:
    """Whether the CPU multiplies bf16 matrices in hardware (one of :data:`BF16_FLAGS`)."""
    return any(flag in cpu_flags() for flag in BF16_FLAGS)


def bf16_flags() -> list[str]:
    """Which of :data:`BF16_FLAGS` this CPU has."""
    return [flag for flag in BF16_FLAGS if flag in cpu_flags()]


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads excluded when psutil can tell)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or usable
        logical = psutil.cpu_count(logical=True) or usable
        # with hyper-threading, only a share of the usable logical CPUs are distinct cores
        usable = max(1, round(usable * physical / logical))
    except ImportError:
        pass
    return max(1, usable)
