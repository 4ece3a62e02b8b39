"""The optional ONNX Runtime backend: runs a graph written by ``cur-nlp export-onnx`` (fp32 or dynamic int8).

The graph takes the *word embeddings* as input, looked up here from the model's own fp16 table, so the ONNX file does
not duplicate the largest matrix of the model already stored in ``model.safetensors``. Needs neither torch nor
transformers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cur_nlp.backends.cpu import physical_cores

ONNX_FILES = {"onnx": "encoder.onnx", "onnx-int8": "encoder.int8.onnx"}
"""File written by ``cur-nlp export-onnx`` for each ONNX backend, inside the model directory."""
DEFAULT_ROWS_PER_RUN = 16
"""Rows per ONNX Runtime call: the fastest of 8-128 for the int8 encoder on 2 cores; larger batches are split."""
WORD_EMBEDDINGS_KEY = "encoder.embeddings.word_embeddings.weight"
"""Tensor of ``model.safetensors`` holding the word-embedding table the ONNX graphs expect as input."""


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def session_options(num_threads: int | None = None) -> Any:
    """ONNX Runtime options for batch inference on a few CPU cores: all graph optimisations, one intra-op thread per
    physical core, sequential execution (the graph is a chain), no spinning between batches so tokenisation and the
    other Python work get the cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = num_threads or physical_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def load_word_embeddings(directory: str | Path) -> np.ndarray:
    """The word-embedding table ``(vocab, hidden)`` of a model directory, as stored (fp16)."""
    from safetensors import safe_open

    from cur_nlp.model_dir import WEIGHTS_FILE

    with safe_open(str(Path(directory) / WEIGHTS_FILE), framework="np") as weights:
        return weights.get_tensor(WORD_EMBEDDINGS_KEY)


class OnnxBackend:
    """An ONNX Runtime session over an exported graph: inputs ``inputs_embeds`` (float32, ``(batch, seq, hidden)``)
    and ``attention_mask``; output ``pooled`` ``(batch, hidden)``."""

    def __init__(self, onnx_path: str | Path, word_embeddings: np.ndarray, name: str = "onnx",
                 num_threads: int | None = None, rows_per_run: int | None = DEFAULT_ROWS_PER_RUN) -> None:
        import onnxruntime as ort

        self.name = name
        self.rows_per_run = rows_per_run
        self.path = Path(onnx_path)
        self.word_embeddings = word_embeddings
        self.session = ort.InferenceSession(
            str(self.path), sess_options=session_options(num_threads), providers=["CPUExecutionProvider"]
        )

    @classmethod
    def from_model_dir(cls, directory: str | Path, name: str = "onnx-int8", word_embeddings: np.ndarray | None = None,
                       num_threads: int | None = None) -> "OnnxBackend":
        """Backend ``name`` (``onnx`` or ``onnx-int8``) of an exported model directory."""
        directory = Path(directory)
        if word_embeddings is None:
            word_embeddings = load_word_embeddings(directory)
        return cls(directory / ONNX_FILES[name], word_embeddings, name=name, num_threads=num_threads)

    def embed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Pooled vectors: word-embedding lookup in numpy, the rest of the encoder in ONNX Runtime, at most
        ``rows_per_run`` rows per session call (smaller activations stay in cache), each slice cut to its last
        non-padding column."""
        input_ids = np.asarray(input_ids)
        mask = np.asarray(attention_mask, dtype=np.int64)
        step = self.rows_per_run or len(input_ids)
        if len(input_ids) <= step:
            return self._run(input_ids, mask)
        parts = []
        for start in range(0, len(input_ids), step):
            rows = mask[start : start + step]
            width = int(np.flatnonzero(rows.any(0))[-1]) + 1 if rows.any() else rows.shape[1]
            parts.append(self._run(input_ids[start : start + step, :width], rows[:, :width]))
        return np.concatenate(parts)

    def _run(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        embeds = self.word_embeddings[input_ids].astype(np.float32, copy=False)
        return self.session.run(["pooled"], {"inputs_embeds": embeds, "attention_mask": mask})[0]
