"""Turning "--device" and "--dtype" strings into torch objects, with clear errors."""

from __future__ import annotations

import re

import torch


DEVICE_CHOICES = "auto, cpu, cuda, cuda:K or mps"
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def resolve_device(name: str) -> torch.device:
    """"auto" picks CUDA when a GPU is present, else the CPU.

    Asking for a device this machine does not have is a ValueError, not a
    crash deep inside torch.
    """
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match:
        if not torch.cuda.is_available():
            raise ValueError(f"device '{name}' is not available: this machine has no CUDA GPU (use auto or cpu)")
        index = int(match.group(1) or 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise ValueError(f"device '{name}' is not available: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")
        return torch.device("cuda", index)
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError("device 'mps' is not available on this machine (use auto or cpu)")
        return torch.device("mps")
    raise ValueError(f"unknown device '{name}': use {DEVICE_CHOICES}")


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """float64 (the default: exact agreement is the point) or float32.

    Apple's MPS has no float64, so there the toolkit falls back to float32
    and says so; comparisons then use float32 tolerances.
    """
    if name not in DTYPES:
        raise ValueError(f"unknown dtype '{name}': use float64 or float32")
    dtype = DTYPES[name]
    if device.type == "mps" and dtype == torch.float64:
        print("note: MPS has no float64; using float32 and float32 tolerances")
        dtype = torch.float32
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
