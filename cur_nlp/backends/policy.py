"""Which backend runs the encoder: ``from_pretrained(backend=...)`` and what ``auto`` picks on this machine.

``auto`` takes the first of :data:`AUTO_ORDER` that this machine can run and whose check against torch fp32 the
model directory records as passed (``cur-nlp export-onnx`` writes the checks to ``config.json``), else torch fp32.
:func:`explain_auto` says why, for ``cur-nlp info``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cur_nlp.backends import cpu
from cur_nlp.backends.onnx_runtime import ONNX_FILES, OnnxBackend, load_word_embeddings, onnxruntime_available
from cur_nlp.backends.torch_encoders import TorchBackend, TorchBf16Backend

if TYPE_CHECKING:  # pragma: no cover
    from cur_nlp.encoder import MultiHeadModel
    from cur_nlp.model_dir import ModelConfig

log = logging.getLogger(__name__)

BACKEND_NAMES = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")
AUTO_ORDER = ("torch-bf16", "onnx-int8", "onnx")
"""Preference of ``auto`` among the backends a model's export checked, fastest first; torch fp32 is the fallback.
``torch-bf16`` only counts where the CPU multiplies bf16 in hardware (AMX or AVX-512 BF16, :mod:`.cpu`)."""


@dataclass
class Candidate:
    """One backend ``auto`` considered: whether it may run here and why (or why not)."""

    name: str
    usable: bool
    reason: str


def consider(directory: str | Path, config: "ModelConfig", name: str) -> Candidate:
    """Whether ``auto`` may take backend ``name``: its check is recorded as passed, and this machine can run it
    (bf16: native bf16 CPU; ONNX: the file exists and onnxruntime imports)."""
    record = config.extra.backends.get(name)
    if record is None:
        return Candidate(name, False, "not checked for this model (cur-nlp export-onnx records the check)")
    if not record.passed:
        return Candidate(name, False, "its recorded check against torch fp32 failed")
    if name == "torch-bf16":
        flags = cpu.bf16_flags()
        if not flags:
            return Candidate(name, False, f"the CPU has none of {', '.join(cpu.BF16_FLAGS)} (bf16 would be emulated)")
        agreement = record.check.get("agreement", {})
        return Candidate(name, True, f"CPU has {', '.join(flags)}; recorded check passed (label agreement "
                                     f"{', '.join(f'{k} {v:.4f}' for k, v in agreement.items())})")
    path = Path(directory) / (record.file or ONNX_FILES[name])
    if not path.exists():
        return Candidate(name, False, f"{path.name} not found")
    if not onnxruntime_available():
        return Candidate(name, False, "onnxruntime is not installed")
    return Candidate(name, True, f"{path.name} present and its recorded check passed")


def explain_auto(directory: str | Path, config: "ModelConfig") -> tuple[str, list[Candidate]]:
    """The backend ``auto`` picks for this model on this machine, and every candidate with its reason."""
    candidates = [consider(directory, config, name) for name in AUTO_ORDER]
    chosen = next((c.name for c in candidates if c.usable), "torch")
    return chosen, candidates


def resolve_backend(name: str, directory: str | Path, config: "ModelConfig") -> str:
    """The concrete backend ``from_pretrained(backend=name)`` runs: ``auto`` becomes the first usable of
    :data:`AUTO_ORDER` (else ``torch``); other names are checked and kept."""
    if name not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {BACKEND_NAMES}, found {name!r}")
    if name == "auto":
        name = explain_auto(directory, config)[0]
        log.debug("backend auto: %s", name)
    return name


def select_backend(name: str, directory: str | Path, config: "ModelConfig", model: "MultiHeadModel | None",
                   num_threads: int | None = None) -> Any:
    """The backend for ``from_pretrained(backend=name)``.

    Naming a backend explicitly skips the recorded check; ONNX ones still need the file and onnxruntime (errors say
    what is missing). ``torch`` needs the loaded ``model``; ``torch-bf16`` copies its encoder when given, else loads
    its own from the directory; the ONNX ones take the word embeddings from ``model`` when given, else from
    ``model.safetensors`` (fp16, as stored: no torch import).
    """
    directory = Path(directory)
    name = resolve_backend(name, directory, config)
    if name in ("torch", "torch-bf16") and num_threads:
        import torch

        torch.set_num_threads(num_threads)
    if name == "torch":
        if model is None:
            raise ValueError("backend 'torch' needs the torch model")
        return TorchBackend(model)
    if name == "torch-bf16":
        return TorchBf16Backend.from_model(model) if model is not None else TorchBf16Backend.from_model_dir(directory, config)
    record = config.extra.backends.get(name)
    path = directory / ((record.file if record else None) or ONNX_FILES[name])
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; run `cur-nlp export-onnx {directory}` first")
    if not onnxruntime_available():
        raise ImportError(f"backend {name!r} needs onnxruntime: pip install onnxruntime")
    if model is not None:  # share the fp32 table the torch encoder already holds instead of loading a second copy
        table = model.encoder.get_input_embeddings().weight.detach().float().numpy()
    else:
        table = load_word_embeddings(directory)
    return OnnxBackend(path, table, name=name, num_threads=num_threads)
