"""Encoder backends: what turns padded token ids into pooled sentence vectors.

``ComplaintClassifier`` tokenises, batches and applies the heads itself; the backend only runs the encoder
(and the pooling). The backends:

* :class:`TorchBackend` wraps :meth:`MultiHeadModel.embed` (transformers, fp32: the reference, always available);
* :class:`TorchBf16Backend` runs the encoder in bfloat16 (:mod:`cur_nlp.bert` for BERT encoders, so without
  importing transformers): on CPUs with AMX-BF16 (Intel Sapphire Rapids and later) the fastest backend
  measured and near-lossless; no files;
* :class:`OnnxBackend` runs an ONNX Runtime session on a graph written by :func:`export_onnx`
  (``encoder.onnx`` fp32 or ``encoder.int8.onnx`` dynamically quantised). The graph takes the *word
  embeddings* as input (looked up here from the model's own fp16 table), so the ONNX file does not
  duplicate the largest matrix of the model already stored in ``model.safetensors``;
* :class:`CheckedBackend` (``onnx-int8-checked``) runs the int8 graph and lets ``ComplaintClassifier`` re-encode
  in fp32 the posts whose int8 decision lies within the margins ``cur-nlp export-onnx`` measured
  (:mod:`cur_nlp.recheck`): fp32's labels at most of int8's speed; needs torch as well as onnxruntime.

:func:`select_backend` implements ``from_pretrained(backend="auto"|"torch"|"torch-bf16"|"onnx"|"onnx-int8"|
"onnx-int8-checked")``;
``auto`` only takes a backend that ``cur-nlp export-onnx`` checked against torch on this model and recorded as
passed in ``config.json`` ``extra["backends"]``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from cur_nlp.encoder import MultiHeadModel
    from cur_nlp.model_dir import ModelConfig

log = logging.getLogger(__name__)

CHECKED_INT8 = "onnx-int8-checked"
"""The int8 encoder with an fp32 recheck of the posts near a decision boundary (:class:`CheckedBackend`)."""
BACKEND_NAMES = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8", CHECKED_INT8)
AUTO_ORDER = ("torch-bf16", CHECKED_INT8, "onnx-int8", "onnx")
"""Preference of ``auto`` among checked backends: the fastest that keeps fp32's labels first, then the fastest
(``benchmarks/speed.py``, ``benchmarks/recheck.py``). ``torch-bf16`` only counts where the CPU has native bf16
(:func:`native_bf16`). The checked int8 backend comes before plain int8 although plain int8 is faster: a plain
int8 file that passed its dev check still lost 1.85 points of topic macro-F1 on the SPb test set, while the
recheck changed no topic label there (``docs/speed.md``, eighth round). torch fp32 is the fallback."""
ONNX_FILES = {"onnx": "encoder.onnx", "onnx-int8": "encoder.int8.onnx", CHECKED_INT8: "encoder.int8.onnx"}
"""File written by :func:`export_onnx` for each ONNX backend, inside the model directory."""
DEFAULT_ROWS_PER_RUN = 16
"""Rows per ONNX Runtime call: the fastest of 8-128 for the int8 encoder on 2 cores (``benchmarks/speed.py``
prints the sweep); larger batches from ``predict`` are split."""
WORD_EMBEDDINGS_KEY = "encoder.embeddings.word_embeddings.weight"
"""Tensor of ``model.safetensors`` holding the word-embedding table the ONNX graphs expect as input."""


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

    A torch encoder allocates its activations afresh for every operation, several MB each. With glibc's default
    thresholds such blocks are mapped, unmapped or trimmed off the heap and page-faulted back in on the next
    batch: 1.8 million page faults and 30% of the bf16 encoder's time for 40 batches of 64 posts on two cores
    (``docs/speed.md``, fifth round). Serving blocks up to 256 MiB from the heap and trimming it only above 1 GiB
    free removes that. The process no longer shrinks after a peak, and larger blocks now come from the heap. In
    paired runs of ``predict`` over the 4941 test posts, bf16 gained 13-15% (5-8% with places) for 22-112 MB more
    peak RSS, fp32 only 7-10% for 260-375 MB more (its activations are twice as large), so only
    :class:`TorchBf16Backend` applies it. Process-wide; a no-op where the C library is not glibc or
    ``CUR_NLP_MALLOC_TUNING=0``.
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


@runtime_checkable
class EncoderBackend(Protocol):
    """Runs the encoder: padded ``input_ids`` and ``attention_mask`` (int64, ``(batch, seq)``) to pooled
    float32 vectors ``(batch, hidden)``."""

    name: str

    def embed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Pooled vectors of one padded batch."""
        ...


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


def native_bf16() -> bool:
    """Whether the CPU multiplies bf16 matrices in hardware (Intel AMX-BF16), where a bf16 encoder beats
    fp32 and int8 here; elsewhere bf16 is emulated and slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split()
    except OSError:
        pass
    return False


class _TorchEncoderBackend:
    """A torch module ``encoder(input_ids, attention_mask)`` returning the last hidden states, pooled here in fp32."""

    name = "torch"

    def __init__(self, encoder: Any, pooling: str, implementation: str) -> None:
        self.encoder = encoder
        self.pooling = pooling
        self.implementation = implementation
        """``cur_nlp.bert`` or ``transformers``: which code runs the encoder."""

    def embed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Pooled fp32 vectors of one padded batch."""
        import torch

        from cur_nlp.bert import mean_pool

        mask = torch.as_tensor(attention_mask)
        with torch.inference_mode():
            hidden = self.encoder(torch.as_tensor(input_ids), mask).float()
            pooled = hidden[:, 0] if self.pooling == "cls" else mean_pool(hidden, mask)
        return pooled.numpy()


class TorchBf16Backend(_TorchEncoderBackend):
    """A PyTorch encoder in bfloat16; pooling runs in fp32 on the bf16 hidden states. Fast only where
    :func:`native_bf16` holds.

    ``encoder(input_ids, attention_mask)`` (a torch module) returns the last hidden states.
    :meth:`from_model_dir` (what ``from_pretrained`` uses) builds :class:`cur_nlp.bert.BertEncoder` when it
    supports the encoder, so that transformers is never imported, else loads the encoder through transformers;
    :meth:`from_model` makes a bf16 copy of an fp32 ``MultiHeadModel``'s encoder and leaves that model untouched.
    """

    name = "torch-bf16"
    width_multiple = 16
    """Batches are padded to a multiple of 16 tokens: oneDNN builds (JIT-compiles, ~3 ms each) and caches bf16
    kernels per input shape, and exact widths give so many shapes that its cache (1024 kernels) thrashes and
    grows memory by hundreds of MB; multiples of 16 keep the shapes few and measured as fast as multiples of 8 and
    3% faster than exact widths on the test posts (``docs/speed.md``, third round)."""

    def __init__(self, encoder: Any, pooling: str, implementation: str) -> None:
        keep_freed_memory()
        super().__init__(encoder, pooling, implementation)

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


def fp32_reference(directory: str | Path, config: "ModelConfig", model: "MultiHeadModel | None" = None) -> EncoderBackend:
    """The fp32 encoder of a model directory: ``model``'s when given, else :class:`cur_nlp.bert.BertEncoder` in fp32
    where it supports the encoder (equal vectors to transformers' without importing it), else transformers'."""
    import torch

    from cur_nlp import bert

    if model is not None:
        return TorchBackend(model)
    if bert.supports(bert.read_encoder_config(directory)):
        return _TorchEncoderBackend(bert.BertEncoder.from_model_dir(directory, torch.float32), config.pooling,
                                    "cur_nlp.bert")
    from cur_nlp.encoder import MultiHeadModel

    return TorchBackend(MultiHeadModel.load(directory, config))


class CheckedBackend:
    """``onnx-int8-checked``: the int8 ONNX encoder for every post, and the fp32 encoder (:func:`fp32_reference`)
    for the posts whose int8 decision lies within ``bounds`` of another label (see :mod:`cur_nlp.recheck`).

    :meth:`embed` is the int8 encoder's; ``ComplaintClassifier`` asks :func:`cur_nlp.recheck.needs_recheck` which
    rows to re-encode with :attr:`reference` and counts them in :attr:`posts` / :attr:`rechecked`.
    """

    name = CHECKED_INT8

    def __init__(self, fast: EncoderBackend, reference: EncoderBackend, bounds: dict[str, float]) -> None:
        self.fast = fast
        self.reference = reference
        self.bounds = dict(bounds)
        """Per head (and ``registry``): the margin at or below which a post is re-encoded in fp32."""
        self.posts = 0
        self.rechecked = 0

    def embed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Pooled vectors from the int8 encoder."""
        return self.fast.embed(input_ids, attention_mask)

    @property
    def rechecked_share(self) -> float:
        """Share of the posts seen so far that were re-encoded in fp32."""
        return self.rechecked / self.posts if self.posts else 0.0


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def session_options(num_threads: int | None = None) -> Any:
    """ONNX Runtime options tuned for batch inference on a few CPU cores: all graph optimisations, one
    intra-op thread per physical core, sequential execution (the graph is a chain), no spinning between
    batches so tokenisation and the other Python work get the cores."""
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
    """An ONNX Runtime session over a graph from :func:`export_onnx`: inputs ``inputs_embeds`` (float32,
    ``(batch, seq, hidden)``) and ``attention_mask``; output ``pooled`` ``(batch, hidden)``."""

    def __init__(
        self,
        onnx_path: str | Path,
        word_embeddings: np.ndarray,
        name: str = "onnx",
        num_threads: int | None = None,
        rows_per_run: int | None = DEFAULT_ROWS_PER_RUN,
    ) -> None:
        import onnxruntime as ort

        self.name = name
        self.rows_per_run = rows_per_run
        self.path = Path(onnx_path)
        self.word_embeddings = word_embeddings
        self.session = ort.InferenceSession(
            str(self.path), sess_options=session_options(num_threads), providers=["CPUExecutionProvider"]
        )

    @classmethod
    def from_model_dir(
        cls, directory: str | Path, name: str = "onnx-int8", word_embeddings: np.ndarray | None = None,
        num_threads: int | None = None,
    ) -> "OnnxBackend":
        """Backend ``name`` (``onnx`` or ``onnx-int8``) of an exported model directory."""
        directory = Path(directory)
        if word_embeddings is None:
            word_embeddings = load_word_embeddings(directory)
        return cls(directory / ONNX_FILES[name], word_embeddings, name=name, num_threads=num_threads)

    def embed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Pooled vectors: word-embedding lookup in numpy, the rest of the encoder in ONNX Runtime, at most
        ``rows_per_run`` rows per session call (smaller activations stay in cache: faster on CPU), each
        slice cut to its last non-padding column."""
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


def recorded_backends(config: "ModelConfig") -> dict[str, dict]:
    """``config.extra["backends"]``: per ONNX backend, its file and the accuracy check run at export."""
    backends = config.extra.get("backends") or {}
    return {k: v for k, v in backends.items() if isinstance(v, dict)}


def usable(directory: str | Path, config: "ModelConfig", name: str) -> bool:
    """Whether ``auto`` may take backend ``name``: recorded in the config as passing its check, and its
    requirements are met here (ONNX: the file exists and onnxruntime imports; bf16: native bf16 CPU)."""
    entry = recorded_backends(config).get(name)
    if not entry or not entry.get("passed"):
        return False
    if name == "torch-bf16":
        return native_bf16()
    if not (Path(directory) / entry.get("file", ONNX_FILES[name])).exists():
        return False
    if name == CHECKED_INT8 and importlib.util.find_spec("torch") is None:
        return False
    return onnxruntime_available()


def resolve_backend(name: str, directory: str | Path, config: "ModelConfig") -> str:
    """The concrete backend ``from_pretrained(backend=name)`` will run: ``auto`` becomes the first of
    :data:`AUTO_ORDER` that :func:`usable` allows, else ``torch``; other names are checked and kept."""
    if name not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {BACKEND_NAMES}, found {name!r}")
    if name == "auto":
        name = next((c for c in AUTO_ORDER if usable(directory, config, c)), "torch")
        log.debug("backend auto: %s", name)
    return name


def select_backend(
    name: str,
    directory: str | Path,
    config: "ModelConfig",
    model: "MultiHeadModel | None",
    num_threads: int | None = None,
) -> EncoderBackend:
    """The backend for ``from_pretrained(backend=name)``.

    ``auto`` takes the first of :data:`AUTO_ORDER` that :func:`usable` allows, else torch fp32. Naming a
    backend explicitly skips the recorded check; ONNX ones still need the file and onnxruntime (errors say
    what is missing). ``torch`` needs the loaded ``model``; ``torch-bf16`` copies its encoder when given, else
    loads its own from the directory (:meth:`TorchBf16Backend.from_model_dir`); the ONNX ones take the word
    embeddings from ``model`` when given, else from ``model.safetensors`` (fp16, as stored: no torch import).
    """
    directory = Path(directory)
    name = resolve_backend(name, directory, config)
    if name in ("torch", "torch-bf16", CHECKED_INT8) and num_threads:
        import torch

        torch.set_num_threads(num_threads)
    if name == "torch":
        if model is None:
            raise ValueError("backend 'torch' needs the torch model")
        return TorchBackend(model)
    if name == "torch-bf16":
        if model is not None:
            return TorchBf16Backend.from_model(model)
        return TorchBf16Backend.from_model_dir(directory, config)
    entry = recorded_backends(config).get(name, {})
    path = directory / entry.get("file", ONNX_FILES[name])
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; run `cur-nlp export-onnx {directory}` first")
    if not onnxruntime_available():
        raise ImportError(f"backend {name!r} needs onnxruntime: pip install onnxruntime")
    bounds = (entry.get("recheck") or {}).get("bounds")
    if name == CHECKED_INT8 and not bounds:
        raise ValueError(f"{directory} records no recheck margins for {name!r}; run `cur-nlp export-onnx {directory}` "
                         "(with int8) to measure them")
    reference = fp32_reference(directory, config, model) if name == CHECKED_INT8 else None
    torch_model = model if model is not None else getattr(reference, "model", None)
    if torch_model is not None:  # share the fp32 table a torch encoder already holds instead of loading a second copy
        table = torch_model.encoder.get_input_embeddings().weight.detach().float().numpy()
    elif isinstance(reference, _TorchEncoderBackend):
        table = reference.encoder.word_embeddings.detach().numpy()
    else:
        table = load_word_embeddings(directory)
    if reference is None:
        return OnnxBackend(path, table, name=name, num_threads=num_threads)
    return CheckedBackend(OnnxBackend(path, table, name="onnx-int8", num_threads=num_threads), reference, bounds)


def __getattr__(attribute: str) -> Any:
    """``export_onnx`` lives in :mod:`cur_nlp.backends.export` (imported lazily: it needs onnx)."""
    if attribute == "export_onnx":
        from cur_nlp.backends.export import export_onnx

        return export_onnx
    raise AttributeError(attribute)


__all__ = [
    "AUTO_ORDER", "BACKEND_NAMES", "CHECKED_INT8", "MALLOC_TUNING_ENV", "ONNX_FILES", "CheckedBackend", "EncoderBackend", "OnnxBackend", "TorchBackend", "TorchBf16Backend",
    "export_onnx", "fp32_reference", "keep_freed_memory", "malloc_tuning_wanted", "native_bf16", "onnxruntime_available", "physical_cores", "resolve_backend",
    "select_backend", "session_options", "usable",
]
