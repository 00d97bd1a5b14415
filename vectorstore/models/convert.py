"""Weights stored as bfloat16 once, so a load maps them instead of converting float32 every time.

Loading the float32 EmbeddingGemma weights as bfloat16 reads the whole 1.2 GB file and converts every
tensor, which made a cold `citeqa ask` peak at 2.3 GB. `to_bfloat16` does that conversion once, when
the model is pulled, tensor by tensor with the same rounding the loader applies (`Tensor.to`), so the
model loaded from the converted file is bit for bit the model loaded by converting, and so are its
embeddings (an index built either way is the same index).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from vectorstore.errors import ModelUnavailable


def to_bfloat16(src: Path, dst: Path, progress: bool = True) -> str:
    """Write `src`'s float32 tensors as bfloat16 (others unchanged) to `dst`; returns dst's sha256.

    Peak memory is the converted tensors (half the float32 size) plus the largest float32 tensor.

    Raises:
        ModelUnavailable: `src` is not a readable safetensors file.
    """
    import torch
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import save_file
    from tqdm import tqdm

    converted: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(src), framework="pt") as weights:
            metadata = weights.metadata() or {}
            names = list(weights.keys())
            for name in tqdm(names, desc="Converting to bfloat16", unit="tensor", disable=not progress):
                tensor = weights.get_tensor(name)
                converted[name] = tensor.to(torch.bfloat16) if tensor.dtype == torch.float32 else tensor
                del tensor
    except (OSError, SafetensorError) as err:
        raise ModelUnavailable(f"Could not read {src} to convert it ({err}).") from err
    save_file(converted, str(dst), metadata={**metadata, "format": "pt"})
    del converted
    with dst.open("rb") as fh:
        os.fsync(fh.fileno())
        return hashlib.file_digest(fh, "sha256").hexdigest()
