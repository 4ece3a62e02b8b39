"""Encoder backends: what turns padded token ids into pooled sentence vectors.

``ComplaintClassifier`` tokenises, batches and applies the heads itself (:mod:`cur_nlp.batching`,
:mod:`cur_nlp.decoding`); a backend only runs the encoder and the pooling:

* ``torch`` — :class:`TorchBackend`, transformers in fp32: the reference (:mod:`.torch_encoders`);
* ``torch-bf16`` — :class:`TorchBf16Backend`, :mod:`cur_nlp.bert` in bfloat16 (:mod:`.torch_encoders`);
* ``onnx`` / ``onnx-int8`` — :class:`OnnxBackend`, optional, over a graph from ``cur-nlp export-onnx``
  (:mod:`.onnx_runtime`);
* ``auto`` — chosen by the CPU and the model's recorded checks (:mod:`.policy`; :mod:`.cpu` reads the CPU).

A new backend is a class with ``name`` and ``embed(input_ids, attention_mask) -> (batch, hidden)`` float32,
a name in :data:`BACKEND_NAMES` and a branch in :func:`select_backend` (``docs/architecture.md``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class EncoderBackend(Protocol):
    """Runs the encoder: padded ``input_ids`` and ``attention_mask`` (int64, ``(batch, seq)``) to pooled
    float32 vectors ``(batch, hidden)``."""

    name: str

    def embed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Pooled vectors of one padded batch."""
        ...


from cur_nlp.backends.cpu import native_bf16, physical_cores  # noqa: E402
from cur_nlp.backends.onnx_runtime import ONNX_FILES, OnnxBackend, onnxruntime_available  # noqa: E402
from cur_nlp.backends.policy import AUTO_ORDER, BACKEND_NAMES, explain_auto, resolve_backend, select_backend  # noqa: E402
from cur_nlp.backends.torch_encoders import (  # noqa: E402
    MALLOC_TUNING_ENV,
    TorchBackend,
    TorchBf16Backend,
    keep_freed_memory,
    malloc_tuning_wanted,
)

__all__ = [
    "AUTO_ORDER", "BACKEND_NAMES", "MALLOC_TUNING_ENV", "ONNX_FILES", "EncoderBackend", "OnnxBackend", "TorchBackend",
    "TorchBf16Backend", "explain_auto", "keep_freed_memory", "malloc_tuning_wanted", "native_bf16",
    "onnxruntime_available", "physical_cores", "resolve_backend", "select_backend",
]
