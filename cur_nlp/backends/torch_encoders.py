"""The PyTorch encoder backends: fp32 (the reference) and bf16.

* :class:`TorchBackend` wraps :meth:`MultiHeadModel.embed` (transformers, fp32: the reference, always available);
* :class:`TorchBf16Backend` runs the encoder in bfloat16, through :mod:`cur_nlp.bert` for BERT encoders (so without
  importing transformers), else through transformers. Fast where the CPU has native bf16 (:mod:`.cpu`).
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from cur_nlp.encoder import MultiHeadModel
    from cur_nlp.model_dir import ModelConfig

MALLOC_TUNING_ENV = "CUR_NLP_MALLOC_TUNING"
"""Set to ``0`` to leave the C library's allocator settings alone (see :func:`keep_freed_memory`)."""
MMAP_THRESHOLD = 1 << 28
TRIM_THRESHOLD = 1 << 30


def malloc_tuning_wanted() -> bool:
    """Whether :func:`keep_freed_memory` will change the allocator: glibc, and not ``CUR_NLP_MALLOC_TUNING=0``."""
    return os.environ.get(MALLOC_TUNING_ENV, "1") != "0" and platform.libc_ver()[0] == "glibc"


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of handing it back to the OS; returns whether it did.

    A torch encoder allocates its activations afresh for every operation, several MB each; with glibc's default
    thresholds they are unmapped and page-faulted back in on the next batch (30% of the bf16 encoder's time on two
    cores, ``docs/speed.md``). Serving blocks up to 256 MiB from the heap and trimming only above 1 GiB free
    removes that, for a process that no longer shrinks after a peak. Only :class:`TorchBf16Backend` applies it
    (bf16 gained 13-15% for 22-112 MB more peak RSS; fp32 7-10% for 260-375 MB). Process-wide; a no-op where
    the C library is not glibc or ``CUR_NLP_MALLOC_TUNING=0``.
    """
    if not malloc_tuning_wanted():
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # pragma: no cover - glibc without a loadable libc.so.6
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    # both together: a trim threshold alone also freezes the mmap threshold at 128 KiB, which is worse
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD))


class TorchBackend:
    """The PyTorch encoder of a :class:`MultiHeadModel` (fp32, ``inference_mode``)."""

    name = "torch"

    def __init__(self, model: "MultiHeadModel") -> None:
        self.model = model

    def embed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Pooled vectors from ``MultiHeadModel.embed``."""
        import torch

        with torch.inference_mode():
            pooled = self.model.embed(torch.as_tensor(input_ids), torch.as_tensor(attention_mask))
        return pooled.float().numpy()


class TorchBf16Backend:
    """A PyTorch encoder in bfloat16; pooling runs in fp32 on the bf16 hidden states.

    ``encoder(input_ids, attention_mask)`` (a torch module) returns the last hidden states.
    :meth:`from_model_dir` (what ``from_pretrained`` uses) builds :class:`cur_nlp.bert.BertEncoder` when it
    supports the encoder, so that transformers is never imported, else loads the encoder through transformers;
    :meth:`from_model` makes a bf16 copy of an fp32 ``MultiHeadModel``'s encoder and leaves that model untouched.
    """

    name = "torch-bf16"
    width_multiple = 16
    """Batches are padded to a multiple of 16 tokens: oneDNN builds and caches bf16 kernels per input shape, and
    exact widths give so many shapes that its cache thrashes and grows memory by hundreds of MB; multiples of 16
    measured as fast as multiples of 8 and 3% faster than exact widths (``docs/speed.md``)."""

    def __init__(self, encoder: Any, pooling: str, implementation: str) -> None:
        keep_freed_memory()
        self.encoder = encoder
        self.pooling = pooling
        self.implementation = implementation
        """``cur_nlp.bert`` or ``transformers``: which code runs the encoder."""

    @classmethod
    def from_model_dir(cls, directory: str | Path, config: "ModelConfig") -> "TorchBf16Backend":
        """The bf16 encoder of a model directory, loaded straight in bf16 (no fp32 copy is made)."""
        import torch

        from cur_nlp import bert

        if bert.supports(bert.read_encoder_config(directory)):
            return cls(bert.BertEncoder.from_model_dir(directory, torch.bfloat16), config.pooling, "cur_nlp.bert")
        from cur_nlp.encoder import MultiHeadModel

        return cls.from_model(MultiHeadModel.load(directory, config, torch.bfloat16))

    @classmethod
    def from_model(cls, model: "MultiHeadModel") -> "TorchBf16Backend":
        """The transformers encoder of ``model`` in bf16: used as it is when already bf16, else copied."""
        import copy

        import torch

        from cur_nlp.encoder import HiddenStates

        encoder = model.encoder
        if next(encoder.parameters()).dtype != torch.bfloat16:
            encoder = copy.deepcopy(encoder).to(torch.bfloat16)
        return cls(HiddenStates(encoder.eval()), model.config.pooling, "transformers")

    def embed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Pooled fp32 vectors of one padded batch."""
        import torch

        from cur_nlp.bert import mean_pool

        mask = torch.as_tensor(attention_mask)
        with torch.inference_mode():
            hidden = self.encoder(torch.as_tensor(input_ids), mask).float()
            pooled = hidden[:, 0] if self.pooling == "cls" else mean_pool(hidden, mask)
        return pooled.numpy()
