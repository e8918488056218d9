"""Damaged copies of real model files, for the tests that a model is hash-checked before it loads."""

from __future__ import annotations

import shutil
from pathlib import Path


def tampered_copy(folder: Path, dest: Path, file: str = "model.safetensors") -> Path:
    """A copy of a model folder at dest with one bit flipped in the middle of `file`; returns dest."""
    shutil.copytree(folder, dest)
    weights = dest / file
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    return dest
