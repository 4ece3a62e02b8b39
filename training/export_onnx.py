"""Export a model directory's encoder to ONNX (fp32, optionally dynamic int8) and check it against torch fp32.

The graph is ``(inputs_embeds, attention_mask) -> pooled``: position/type embeddings, LayerNorm, the transformer layers
and the pooling are inside it; the word-embedding lookup is not, because that table (the largest matrix) is already
in ``model.safetensors`` and :class:`cur_nlp.backends.OnnxBackend` reads it from there. The graph is fused with ONNX
Runtime's transformer optimiser when the fused graph gives the same vectors, and ``quantize`` adds a dynamically
quantised copy (int8 weights per output channel, activations per tensor at run time).

Every backend is checked against torch fp32 on the given texts (label agreement per head, vector difference and,
when topic labels are given, topic macro-F1 with a paired bootstrap interval) and recorded in ``config.json``
(``extra.backends``); ``from_pretrained(backend="auto")`` only picks a backend whose check passed. On CPUs with native
bf16 the file-less ``torch-bf16`` backend is checked and recorded the same way. Build-time only: the runtime never
imports this module.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cur_nlp.backends import ONNX_FILES, native_bf16
from cur_nlp.batching import clean_texts
from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.decoding import decide
from cur_nlp.model_dir import BackendRecord, ModelConfig
from cur_nlp_training.metrics import macro_f1, paired_bootstrap

log = logging.getLogger(__name__)

OPSET = 17
DEFAULT_MIN_AGREEMENT = 0.99
"""Least share of texts on which every head's label must equal the torch model's for a backend to pass."""
DEFAULT_MAX_F1_DROP = 0.005
"""Largest topic macro-F1 (and accuracy) loss against torch, absolute, for a backend to pass."""
SMOKE_TEXTS = [
    "Во дворе дома 5 на улице Ленина открыт люк, дети играют рядом",
    "В подъезде не работает лифт уже неделю",
    "На тротуаре гололёд, люди падают, никто не посыпает",
    "Спасибо за ремонт детской площадки!",
    "Мусор не вывозят третий день, контейнеры переполнены",
    "Яма на дороге у остановки, машины бьют колёса",
    "Автобус 45 не пришёл, ждали час на морозе",
    "В поликлинике нельзя записаться к врачу через госуслуги",
    "Прорвало трубу, горячая вода течёт по улице",
    "В школе нет отопления, дети сидят в куртках",
    "Незаконная стройка во дворе, шумят ночью",
    "Нет интернета и связи в посёлке вторую неделю",
]
"""Texts for the check when none are given: a smoke check only; pass real texts for a real one."""


def _pooled_encoder(model: Any) -> Any:
    """A module ``(inputs_embeds, attention_mask) -> pooled`` around the model's encoder, eager attention."""
    import torch

    from cur_nlp.bert import mean_pool

    encoder = model.encoder
    try:
        encoder.set_attn_implementation("eager")
    except (AttributeError, ValueError):
        encoder.config._attn_implementation = "eager"
    pooling = model.config.pooling

    class PooledEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            return hidden[:, 0] if pooling == "cls" else mean_pool(hidden, attention_mask)

    return PooledEncoder().eval()


def export_fp32(model: Any, path: Path, opset: int = OPSET) -> None:
    """Write the fp32 ONNX graph of ``model``'s encoder + pooling with dynamic batch and sequence axes."""
    import warnings

    import torch

    module = _pooled_encoder(model)
    embeds = torch.randn(2, 7, model.encoder.config.hidden_size)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (embeds, mask), str(path), dynamo=False, opset_version=opset,
            input_names=["inputs_embeds", "attention_mask"], output_names=["pooled"],
            dynamic_axes={"inputs_embeds": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                          "pooled": {0: "batch"}},
            do_constant_folding=True,
        )


def fuse_transformer(path: Path, model: Any) -> dict[str, int]:
    """Fuse attention/LayerNorm/GELU subgraphs in place with ONNX Runtime's transformer optimiser, keeping the result
    only if it gives the same pooled vectors as ``model``; returns the fused operator counts (empty when not kept)."""
    import onnxruntime as ort
    import torch
    from onnxruntime.transformers.optimizer import optimize_model

    config = model.encoder.config
    optimized = optimize_model(str(path), model_type="bert", num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size, opt_level=0)
    counts = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
    fused_path = path.with_suffix(".fused.onnx")
    optimized.save_model_to_file(str(fused_path))
    embeds = torch.randn(3, 11, config.hidden_size, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(3, 11, dtype=torch.long)
    mask[1, 6:], mask[2, 2:] = 0, 0
    with torch.inference_mode():
        expected = _pooled_encoder(model)(embeds, mask).numpy()
    session = ort.InferenceSession(str(fused_path), providers=["CPUExecutionProvider"])
    got = session.run(["pooled"], {"inputs_embeds": embeds.numpy(), "attention_mask": mask.numpy()})[0]
    if not np.allclose(got, expected, atol=1e-4, rtol=1e-3):
        log.warning("fused graph differs from the exported one (max %.2e); keeping the unfused graph",
                    float(np.abs(got - expected).max()))
        fused_path.unlink()
        return {}
    fused_path.replace(path)
    return counts


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weight matmuls (per output channel; activations quantised at run time)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # onnxruntime.quantization logs a few lines per tensor on the root logger: hundreds per call
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        # fused contrib ops (Attention, SkipLayerNormalization) defeat ONNX shape inference: their outputs are float
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": TensorProto.FLOAT})
    finally:
        root.setLevel(level)


@dataclass
class Reference:
    """What torch fp32 gives the check texts, computed once for every backend's check: the non-empty texts (and
    their positions), the probabilities per head and the vectors of the first ``vector_sample`` texts."""

    config: ModelConfig
    keep: list[int]
    texts: list[str]
    scores: dict[str, np.ndarray]
    vectors: np.ndarray

    @classmethod
    def of(cls, reference: ComplaintClassifier, texts: Sequence[str], vector_sample: int = 256) -> "Reference":
        """Score ``texts`` with the fp32 ``reference`` classifier."""
        keep = [i for i, t in enumerate(clean_texts(texts)) if t.strip()]
        kept = [texts[i] for i in keep]
        return cls(reference.config, keep, kept, reference.predict_scores(kept), reference.embed(kept[:vector_sample])[0])


def check_backend(reference: Reference, other: ComplaintClassifier,
                  topic_labels: Sequence[str | None] | None = None) -> dict[str, Any]:
    """Compare ``other`` with the torch fp32 ``reference`` on its texts: label agreement per head (full
    ``predict_scores`` path and decision rules), vector differences on the reference's vector sample and, with
    ``topic_labels`` (aligned with the texts given to the reference), topic macro-F1 and accuracy of both with a
    paired bootstrap interval of the difference."""
    keep, kept, s_torch, v_torch = reference.keep, reference.texts, reference.scores, reference.vectors
    started = time.perf_counter()
    s_other = other.predict_scores(kept)
    seconds = time.perf_counter() - started
    v_other, _ = other.embed(kept[:len(v_torch)])
    cosine = np.sum(v_torch * v_other, axis=1) / (np.linalg.norm(v_torch, axis=1) * np.linalg.norm(v_other, axis=1) + 1e-12)
    result: dict[str, Any] = {"n_texts": len(kept), "max_abs_diff": float(np.abs(v_torch - v_other).max()),
                              "min_cosine": float(cosine.min()), "agreement": {}, "seconds": round(seconds, 2)}
    if getattr(other.backend, "implementation", None):
        result["implementation"] = other.backend.implementation
    decided = {}
    for head in reference.config.heads:
        decided[head.name] = decide(head, s_torch[head.name]), decide(head, s_other[head.name])
        result["agreement"][head.name] = float(np.mean(decided[head.name][0] == decided[head.name][1]))
    if topic_labels is not None and "topic" in decided:
        labels = reference.config.head("topic").labels
        gold_all = [topic_labels[i] for i in keep]
        rows = [i for i, g in enumerate(gold_all) if g in labels]
        if rows:
            gold = np.array([labels.index(gold_all[i]) for i in rows])
            a, b = decided["topic"][0][rows], decided["topic"][1][rows]
            result["topic_macro_f1"] = {"torch": macro_f1(gold, a), other.backend.name: macro_f1(gold, b), "n": len(rows),
                                        "accuracy_torch": float(np.mean(a == gold)), "accuracy": float(np.mean(b == gold)),
                                        "difference": paired_bootstrap(gold, a, b, macro_f1)}  # 90% interval
    return result


def passes(check: dict[str, Any], name: str, min_agreement: float, max_f1_drop: float) -> bool:
    """Every head agrees with torch on at least ``min_agreement`` of the texts, and neither topic macro-F1 nor topic
    accuracy is more than ``max_f1_drop`` below torch's. Strict on purpose: ``auto`` then falls back to a backend that
    passed (torch at worst); the recorded bootstrap interval tells noise from loss."""
    if min(check["agreement"].values()) < min_agreement:
        return False
    f1 = check.get("topic_macro_f1")
    return not f1 or (f1["accuracy_torch"] - f1["accuracy"] <= max_f1_drop and f1["torch"] - f1[name] <= max_f1_drop)


def export_onnx(model_dir: str | Path, quantize: bool = True, *, keep_fp32: bool | None = None,
                texts: Sequence[str] | None = None, topic_labels: Sequence[str | None] | None = None,
                fuse: bool = True, check_bf16: bool | None = None, write_onnx: bool = True,
                min_agreement: float = DEFAULT_MIN_AGREEMENT, max_f1_drop: float = DEFAULT_MAX_F1_DROP,
                ) -> dict[str, BackendRecord]:
    """Write ``encoder.onnx`` (fp32) and, with ``quantize``, ``encoder.int8.onnx`` into ``model_dir``, check them (and,
    where the CPU has native bf16 or ``check_bf16``, the file-less ``torch-bf16``) against torch on ``texts`` (a
    smoke set when none), and record the checks in ``config.json``.

    ``keep_fp32`` (default: only without ``quantize``) keeps the fp32 file next to the int8 one (4x larger);
    ``write_onnx=False`` writes no ONNX file (and removes existing ones) and only checks bf16. Returns the records.
    """
    from cur_nlp.encoder import MultiHeadModel

    directory = Path(model_dir)
    keep_fp32 = (not quantize) if keep_fp32 is None else keep_fp32
    config = ModelConfig.load(directory)
    fp32_path, int8_path = directory / ONNX_FILES["onnx"], directory / ONNX_FILES["onnx-int8"]
    check_texts = list(texts) if texts else SMOKE_TEXTS
    started = time.perf_counter()
    fused: dict[str, int] = {}
    for path in (fp32_path, int8_path):
        path.unlink(missing_ok=True)
    names: list[str] = []
    if write_onnx:
        model = MultiHeadModel.load(directory, config)
        export_fp32(model, fp32_path)
        fused = fuse_transformer(fp32_path, model) if fuse else {}
        names.append("onnx")
        if quantize:
            quantize_int8(fp32_path, int8_path)
            names.append("onnx-int8")
    export_seconds = round(time.perf_counter() - started, 1)
    records = {name: BackendRecord(ONNX_FILES[name], (directory / ONNX_FILES[name]).stat().st_size,
                                   quantization={"type": "dynamic", "weights": "QInt8", "per_channel": True}
                                   if name == "onnx-int8" else None, fused_ops=fused, export_seconds=export_seconds)
               for name in names}
    if check_bf16 if check_bf16 is not None else native_bf16():
        names.append("torch-bf16")
        records["torch-bf16"] = BackendRecord(None)
    config.extra.backends = records
    config.save(directory)  # backends are loaded by name for their checks
    reference = Reference.of(ComplaintClassifier.from_pretrained(directory, backend="torch"), check_texts)
    for name in names:
        check = check_backend(reference, ComplaintClassifier.from_pretrained(directory, backend=name),
                              topic_labels if texts else None)
        check["texts"] = "given" if texts else "built-in smoke set"
        records[name].check = check
        records[name].passed = passes(check, name, min_agreement, max_f1_drop)
        records[name].criteria = {"min_agreement": min_agreement, "max_topic_f1_drop": max_f1_drop}
        log.info("%s: passed=%s agreement=%s", name, records[name].passed, check["agreement"])
    if write_onnx and quantize and not keep_fp32:
        fp32_path.unlink()
        records.pop("onnx")
    config.extra.backends = records
    config.save(directory)
    return records
