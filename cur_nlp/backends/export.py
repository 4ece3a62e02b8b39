"""Export a model directory's encoder to ONNX (fp32 and dynamically quantised int8) and check it.

The exported graph is ``(inputs_embeds, attention_mask) -> pooled``: position/type embeddings, LayerNorm, the
transformer layers and the pooling (mean or CLS, as the model's config says) are inside the graph; the word
embedding lookup is not, because that table (the largest matrix of the model) is already in
``model.safetensors`` and :class:`~cur_nlp.backends.OnnxBackend` reads it from there. The graph is then fused
with ONNX Runtime's transformer optimiser (attention, LayerNorm, GELU) when the fused graph gives the same
vectors, and quantised with ``quantize_dynamic`` (int8 weights per output channel, activations per tensor at
run time) after SmoothQuant-style rescaling: this encoder has a few activation channels 20-70x larger than the
rest, which would otherwise set the int8 scale of whole tensors (see :func:`smooth_activations`); a model trained
for int8 (``training.qat``) carries its own factors, which are used instead (:func:`trained_smoothing`). When the fully
quantised graph still fails its check, the matmuls whose quantisation moves the vectors most are left in fp32, a
few more at a time, until the check passes (see :class:`MixedInt8`).

Every exported file is checked against the torch model on the given texts (label agreement per head,
vector difference and, when topic labels are given, topic macro-F1) and recorded in
``config.json`` ``extra["backends"]``; ``from_pretrained(backend="auto")`` only picks a backend whose check passed.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cur_nlp import backends
from cur_nlp.backends import ONNX_FILES
from cur_nlp.model_dir import ModelConfig

log = logging.getLogger(__name__)

OPSET = 17
DEFAULT_MIN_AGREEMENT = 0.99
"""Least share of texts on which every head's label must equal the torch model's for a backend to pass."""
DEFAULT_MAX_F1_DROP = 0.005
"""Largest topic macro-F1 loss against torch (absolute, 0.005 = half a point) for a backend to pass."""
FALLBACK_CHECK_TEXTS = [
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
"""Texts for the export check when no others are given (a smoke check only: pass real texts for a real one)."""
SMOOTHING_FILE = "int8_smoothing.safetensors"
"""Optional file of a model directory: the SmoothQuant factors its encoder was trained with for int8
(``training.qat``); the export then uses them instead of measuring its own (see :func:`trained_smoothing`)."""
SMOOTHING_ROLES = ("qkv", "attention_out", "ffn_in", "ffn_out")
"""The weight nodes of one encoder layer in graph order, as named in ``SMOOTHING_FILE``."""


def smoothing_key(index: int) -> str:
    """Name in ``SMOOTHING_FILE`` of the ``index``-th weight node in graph order (``layer.<i>.<role>``)."""
    layer, role = divmod(index, len(SMOOTHING_ROLES))
    return f"layer.{layer}.{SMOOTHING_ROLES[role]}"


def macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the classes present in gold or predictions (as ``training.metrics.head_metrics``)."""
    scores = []
    for label in np.union1d(gold, pred):
        tp = float(np.sum((gold == label) & (pred == label)))
        fp = float(np.sum((gold != label) & (pred == label)))
        fn = float(np.sum((gold == label) & (pred != label)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def paired_bootstrap_f1(gold: np.ndarray, a: np.ndarray, b: np.ndarray, rounds: int = 1000, seed: int = 0) -> dict[str, float]:
    """Macro-F1 of predictions ``b`` minus that of ``a`` on the same texts: the point difference and the
    5th/95th percentiles over ``rounds`` paired bootstrap resamples of the texts. On small test sets with
    rare classes (supports of 1-10) a single changed label moves macro-F1 by more than half a point; the
    interval says whether a difference is larger than that noise."""
    rng = np.random.default_rng(seed)
    diffs = np.empty(rounds)
    for r in range(rounds):
        rows = rng.integers(0, len(gold), len(gold))
        diffs[r] = macro_f1(gold[rows], b[rows]) - macro_f1(gold[rows], a[rows])
    return {"diff": macro_f1(gold, b) - macro_f1(gold, a), "p05": float(np.percentile(diffs, 5)),
            "p95": float(np.percentile(diffs, 95))}


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
    hidden = model.encoder.config.hidden_size
    embeds = torch.randn(2, 7, hidden)
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


def fuse_transformer(path: Path, num_heads: int, hidden_size: int, reference: tuple[np.ndarray, ...]) -> dict[str, int]:
    """Fuse attention/LayerNorm/GELU subgraphs in place with ONNX Runtime's transformer optimiser, keeping
    the result only if it gives the same pooled vectors on ``reference`` (inputs_embeds, mask, expected).
    Returns the counts of fused operators (empty when fusion was not kept)."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError:  # pragma: no cover - very old onnxruntime
        return {}
    import onnxruntime as ort

    optimized = optimize_model(str(path), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0)
    counts = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
    fused_path = path.with_suffix(".fused.onnx")
    optimized.save_model_to_file(str(fused_path))
    embeds, mask, expected = reference
    session = ort.InferenceSession(str(fused_path), providers=["CPUExecutionProvider"])
    got = session.run(["pooled"], {"inputs_embeds": embeds, "attention_mask": mask})[0]
    if not np.allclose(got, expected, atol=1e-4, rtol=1e-3):
        log.warning("fused graph differs from the exported one (max %.2e); keeping the unfused graph",
                    float(np.abs(got - expected).max()))
        fused_path.unlink()
        return {}
    fused_path.replace(path)
    return counts


def quantize_int8(source: Path, target: Path, per_channel: bool = True, exclude: Sequence[str] = (),
                  only: Sequence[str] | None = None) -> None:
    """Dynamic int8 quantisation of the MatMul/Attention weights (activations quantised at run time); nodes named in
    ``exclude`` stay fp32, and with ``only`` just those nodes are quantised."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # onnxruntime.quantization logs a few lines per tensor on the root logger: hundreds per call
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        # fused contrib ops (Attention, SkipLayerNormalization) defeat ONNX shape inference: their outputs are float
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=per_channel,
                         nodes_to_exclude=list(exclude), nodes_to_quantize=list(only) if only else None,
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": TensorProto.FLOAT})
    finally:
        root.setLevel(level)


def _multiplies_weight(node: Any, weights: Any) -> bool:
    """Whether ``node`` is a MatMul/Attention whose second input is a stored weight (what int8 quantises and
    SmoothQuant rescales); ``weights``: the graph's initializer names."""
    return node.op_type in ("MatMul", "Attention") and len(node.input) > 1 and node.input[1] in weights


def weight_nodes(path: Path) -> list[str]:
    """Names of the nodes of the graph at ``path`` that :func:`quantize_int8` quantises, in graph order: the
    MatMul/Attention nodes that multiply by a stored weight and the Gather nodes that look up a stored table (the
    position and token-type embeddings)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    weights = {i.name for i in model.graph.initializer}
    return [n.name for n in model.graph.node
            if _multiplies_weight(n, weights)
            or (n.op_type in ("Gather", "EmbedLayerNormalization") and n.input and n.input[0] in weights)]


def _token_batches(tokenizer: Any, config: ModelConfig, texts: Sequence[str]) -> list[np.ndarray]:
    """Token ids of each text as the classifier feeds them (normalised, prefixed, clipped), one per text."""
    from cur_nlp.normalize import normalize_text

    batches = []
    for text in texts:
        cleaned = normalize_text(text)
        if cleaned.strip():
            ids = tokenizer(config.text_prefix + cleaned, truncation=True, max_length=config.max_length)["input_ids"]
            batches.append(np.asarray([ids], dtype=np.int64))
    return batches


def activation_ranges(path: Path, table: np.ndarray, batches: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Largest magnitude of every input channel of each weight-carrying MatMul/Attention node of the graph at
    ``path``, over the token sequences ``batches`` (run one at a time: no padding)."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    model = onnx.load(str(path))
    weights = {i.name for i in model.graph.initializer}
    inputs = sorted({n.input[0] for n in model.graph.node if _multiplies_weight(n, weights)})
    for name in inputs:
        model.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ranges: dict[str, np.ndarray] = {}
    for ids in batches:
        outputs = session.run(inputs, {"inputs_embeds": table[ids].astype(np.float32),
                                       "attention_mask": np.ones_like(ids)})
        for name, value in zip(inputs, outputs):
            channel_max = np.abs(value.reshape(-1, value.shape[-1])).max(0)
            ranges[name] = np.maximum(ranges[name], channel_max) if name in ranges else channel_max
    return ranges


def smoothing_scales(source: Path, ranges: dict[str, np.ndarray], alpha: float) -> dict[str, np.ndarray]:
    """SmoothQuant factors ``s_j = a_j^alpha / w_j^(1-alpha)`` (``a_j``: activation range of input channel ``j``,
    ``w_j``: largest weight in row ``j``), clipped to [0.01, 100], for every weight node of the graph at ``source``
    whose input has a range; keyed by node name."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    weights = {i.name: i for i in model.graph.initializer}
    scales = {}
    for node in model.graph.node:
        if _multiplies_weight(node, weights) and node.input[0] in ranges:
            weight = numpy_helper.to_array(weights[node.input[1]])
            scale = ranges[node.input[0]] ** alpha / np.maximum(np.abs(weight).max(1), 1e-5) ** (1 - alpha)
            scales[node.name] = np.clip(scale, 1e-2, 1e2).astype(np.float32)
    return scales


def apply_smoothing(source: Path, target: Path, scales: dict[str, np.ndarray]) -> int:
    """Divide input channel ``j`` of each node named in ``scales`` by ``s_j`` with an inserted ``Mul`` and multiply
    the weight row ``j`` by ``s_j``: the product is unchanged, the input's int8 range is not set by a few huge
    channels. Returns the number of smoothed nodes."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    nodes = []
    smoothed = 0
    for node in graph.node:
        if _multiplies_weight(node, weights) and node.name in scales:
            weight = numpy_helper.to_array(weights[node.input[1]])
            scale = np.asarray(scales[node.name], dtype=np.float32)
            if scale.shape != (weight.shape[0],):
                raise ValueError(f"smoothing factors of {node.name} have shape {scale.shape}, its weight has "
                                 f"{weight.shape[0]} input channels")
            weights[node.input[1]].CopyFrom(numpy_helper.from_array((weight * scale[:, None]).astype(np.float32),
                                                                    node.input[1]))
            inverse = graph.initializer.add()
            inverse.CopyFrom(numpy_helper.from_array((1.0 / scale).astype(np.float32), f"{node.name}_smooth_scale"))
            nodes.append(helper.make_node("Mul", [node.input[0], inverse.name], [f"{node.name}_smoothed"],
                                          name=f"{node.name}_smooth"))
            node.input[0] = f"{node.name}_smoothed"
            smoothed += 1
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(target))
    return smoothed


def smooth_activations(source: Path, target: Path, ranges: dict[str, np.ndarray], alpha: float) -> int:
    """SmoothQuant (:func:`smoothing_scales`, then :func:`apply_smoothing`): the rare huge activation channels of
    this model (LayerNorm and GELU outputs reach 30-70 where most channels stay near 1) no longer set the
    per-tensor int8 scale. Returns the number of smoothed nodes."""
    return apply_smoothing(source, target, smoothing_scales(source, ranges, alpha))


def trained_smoothing(directory: Path, graph: Path) -> dict[str, np.ndarray] | None:
    """The smoothing factors a model was trained with for int8 (``SMOOTHING_FILE``, written by quantisation-aware
    training: one tensor ``layer.<i>.<role>`` per weight node, roles as ``SMOOTHING_ROLES``), keyed by the names of
    the weight nodes of the fused ``graph`` (graph order: the attention and three matmuls of each layer); None when
    the directory has no such file. Raises ``ValueError`` when the file does not fit the graph."""
    path = directory / SMOOTHING_FILE
    if not path.exists():
        return None
    import onnx
    from safetensors.numpy import load_file

    stored = load_file(str(path))
    model = onnx.load(str(graph), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    nodes = [n.name for n in model.graph.node if _multiplies_weight(n, initializers)]
    keys = [smoothing_key(i) for i in range(len(nodes))]
    if sorted(keys) != sorted(stored):
        raise ValueError(f"{path} has factors for {len(stored)} nodes ({sorted(stored)[:3]}...), the fused graph has "
                         f"{len(nodes)} weight nodes: was the model trained for this export?")
    return {node: stored[key] for node, key in zip(nodes, keys)}


def _cosines(path: Path, table: np.ndarray, batches: Sequence[np.ndarray], reference: np.ndarray) -> np.ndarray:
    got = _run_pooled(path, table, batches)
    return (got * reference).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(reference, axis=1) + 1e-12)


def _run_pooled(path: Path, table: np.ndarray, batches: Sequence[np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(["pooled"], {"inputs_embeds": table[ids].astype(np.float32),
                                                    "attention_mask": np.ones_like(ids)})[0] for ids in batches])


@dataclass
class MixedInt8:
    """The (smoothed) fp32 graph an int8 file is quantised from, and what is needed to keep its most sensitive
    matmuls in fp32. A node's sensitivity is how much quantising that node alone lowers the mean cosine of the
    pooled vectors to the fp32 ones on the selection sequences (dev texts, never the test sets); the FFN output
    projections of this encoder lead, because their inputs (GELU outputs) keep a few huge channels even after
    smoothing (``reports/int8_sensitivity.json``)."""

    source: Path
    table: np.ndarray
    selection: list[np.ndarray]
    per_channel: bool = True
    sensitivity: dict[str, float] | None = None
    kept: list[str] = field(default_factory=list)
    """The nodes left in fp32 by the last :meth:`write`."""

    def ranked_nodes(self) -> list[str]:
        """Weight nodes, most sensitive first (measured once, one quantisation per node)."""
        if self.sensitivity is None:
            reference = _run_pooled(self.source, self.table, self.selection)
            probe = self.source.with_suffix(".probe.onnx")
            self.sensitivity = {}
            try:
                for node in weight_nodes(self.source):
                    quantize_int8(self.source, probe, per_channel=self.per_channel, only=[node])
                    cosine = _cosines(probe, self.table, self.selection, reference)
                    self.sensitivity[node] = float(1.0 - cosine.mean())
            finally:
                probe.unlink(missing_ok=True)
        return sorted(self.sensitivity, key=self.sensitivity.__getitem__, reverse=True)

    def write(self, target: Path, fp32_nodes: int) -> list[str]:
        """Quantise into ``target`` with the ``fp32_nodes`` most sensitive nodes left in fp32; returns their names."""
        self.kept = self.ranked_nodes()[:fp32_nodes] if fp32_nodes else []
        quantize_int8(self.source, target, per_channel=self.per_channel, exclude=self.kept)
        return self.kept


def quantize_calibrated(
    fp32_path: Path, int8_path: Path, table: np.ndarray, batches: Sequence[np.ndarray],
    alphas: Sequence[float | None] = (None, 0.5, 0.6, 0.7, 0.8), per_channel: bool = True,
    keep_source: Path | None = None, trained: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, Any], MixedInt8]:
    """Dynamic int8 with SmoothQuant, ``alpha`` chosen among ``alphas`` (``None``: no smoothing) by the mean
    cosine of the int8 vectors to the fp32 ones: ranges are measured on the even-numbered sequences of
    ``batches`` and candidates compared on the odd-numbered ones. With ``trained`` factors (per node name, from
    :func:`trained_smoothing`) those are the only candidate: the model was trained to be rounded on that grid.
    Writes the best to ``int8_path``; returns the calibration record and a :class:`MixedInt8` over the chosen fp32
    graph (smoothed into ``keep_source`` when given; the caller removes that file)."""
    calibration, selection = list(batches[0::2]), list(batches[1::2]) or list(batches)
    if trained is not None:
        options: dict[str, dict[str, np.ndarray] | None] = {"trained": trained}
    else:
        ranges = activation_ranges(fp32_path, table, calibration)
        options = {("none" if a is None else str(a)): (None if a is None else smoothing_scales(fp32_path, ranges, a))
                   for a in alphas}
    reference = _run_pooled(fp32_path, table, selection)
    candidates: dict[str, float] = {}
    best: tuple[float, str] | None = None
    smoothed_path, candidate_path = fp32_path.with_suffix(".smooth.onnx"), int8_path.with_suffix(".candidate.onnx")
    try:
        for label, scales in options.items():
            source = fp32_path
            if scales is not None:
                apply_smoothing(fp32_path, smoothed_path, scales)
                source = smoothed_path
            quantize_int8(source, candidate_path, per_channel=per_channel)
            score = float(_cosines(candidate_path, table, selection, reference).mean())
            candidates[label] = score
            if best is None or score > best[0]:
                best = (score, label)
                candidate_path.replace(int8_path)
    finally:
        for leftover in (smoothed_path, candidate_path):
            leftover.unlink(missing_ok=True)
    assert best is not None
    chosen = options[best[1]]
    source = fp32_path
    if keep_source is not None:
        if chosen is None:
            shutil.copyfile(fp32_path, keep_source)
        else:
            apply_smoothing(fp32_path, keep_source, chosen)
        source = keep_source
    alpha = None if best[1] == "none" else (best[1] if best[1] == "trained" else float(best[1]))
    record = {"smooth_alpha": alpha, "mean_cosine_by_alpha": candidates, "calibration_sequences": len(calibration),
              "selection_sequences": len(selection)}
    return record, MixedInt8(source, table, selection, per_channel)


def _reference_outputs(reference: Any, cleaned: Sequence[str], cache: dict[str, Any],
                       vector_sample: int = 256) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """fp32 vectors and scores of the normalised, non-empty check texts, as ``predict_scores`` computes them, once
    per ``cache`` (shared by :func:`check_backend` and :func:`fit_recheck`)."""
    if "scores" not in cache:
        cache["all_vectors"] = reference.embed(cleaned, normalized=True)[0]
        cache["scores"] = reference._scores(cache["all_vectors"], cleaned)
        cache["vectors"] = cache["all_vectors"][:vector_sample]
    return cache["all_vectors"], cache["scores"]


def check_backend(
    directory: Path, name: str, texts: Sequence[str], topic_labels: Sequence[str | None] | None = None,
    reference: Any | None = None, vector_sample: int = 256, cache: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compare backend ``name`` of ``directory`` with the torch backend on ``texts``: label agreement per head
    (full ``predict_scores`` path and decision rules), vector differences on the first ``vector_sample``
    texts and, with ``topic_labels``, topic macro-F1 of both. ``cache`` (a dict kept between calls on the same
    texts) saves recomputing the torch side."""
    from cur_nlp.classifier import ComplaintClassifier, decide

    torch_clf = reference or ComplaintClassifier.from_pretrained(directory, backend="torch")
    other = ComplaintClassifier.from_pretrained(directory, backend=name)
    keep = [i for i, t in enumerate(torch_clf._prepare(texts)) if t.strip()]
    kept = [texts[i] for i in keep]
    cache = {} if cache is None else cache
    _reference_outputs(torch_clf, torch_clf._prepare(kept), cache, vector_sample)
    s_torch, v_torch = cache["scores"], cache["vectors"]
    start = time.perf_counter()
    s_other = other.predict_scores(kept)
    seconds = time.perf_counter() - start
    v_other, _ = other.embed(kept[:vector_sample])
    cosine = np.sum(v_torch * v_other, axis=1) / (
        np.linalg.norm(v_torch, axis=1) * np.linalg.norm(v_other, axis=1) + 1e-12)
    result: dict[str, Any] = {
        "n_texts": len(kept),
        "max_abs_diff": float(np.abs(v_torch - v_other).max()),
        "min_cosine": float(cosine.min()),
        "agreement": {},
        "seconds": round(seconds, 2),
    }
    if getattr(other.backend, "implementation", None):
        result["implementation"] = other.backend.implementation
    decided = {}
    for head in torch_clf.config.heads:
        a, b = decide(head, s_torch[head.name]), decide(head, s_other[head.name])
        decided[head.name] = (a, b)
        result["agreement"][head.name] = float(np.mean(a == b))
    if topic_labels is not None and "topic" in decided:
        labels = torch_clf.config.head("topic").labels
        gold_all = [topic_labels[i] for i in keep]
        rows = [i for i, g in enumerate(gold_all) if g in labels]
        if rows:
            gold = np.array([labels.index(gold_all[i]) for i in rows])
            a, b = decided["topic"]
            result["topic_macro_f1"] = {"torch": macro_f1(gold, a[rows]), name: macro_f1(gold, b[rows]),
                                        "n": len(rows), "accuracy_torch": float(np.mean(a[rows] == gold)),
                                        "accuracy": float(np.mean(b[rows] == gold)),
                                        "difference": paired_bootstrap_f1(gold, a[rows], b[rows])}
    return result


def fit_recheck(directory: Path, texts: Sequence[str], reference: Any, cache: dict[str, Any]) -> dict[str, Any]:
    """Margins of the ``onnx-int8-checked`` backend (:func:`cur_nlp.recheck.fit_margins`): the largest shift the int8
    file of ``directory`` gives any head's decision scores, and the registry's similarities, on ``texts``
    against the fp32 ``reference`` classifier (``cache``: as filled by :func:`check_backend` on the same texts).
    Also records how many int8 labels differ from fp32 there, what share of the texts the margins recheck, and
    (``held_out``) how many labels still differ on every second text when the margins are fitted on the others."""
    from cur_nlp.classifier import ComplaintClassifier, decide
    from cur_nlp.recheck import REGISTRY, fit_margins, needs_recheck, registry_scores

    fast = ComplaintClassifier.from_pretrained(directory, backend="onnx-int8")
    cleaned = [t for t in fast._prepare(texts) if t.strip()]
    v_ref, s_ref = _reference_outputs(reference, cleaned, cache)
    v_fast = fast.embed(cleaned, normalized=True)[0]
    s_fast = fast._scores(v_fast, cleaned)
    sims_fast = sims_ref = None
    if reference.registry is not None:  # claims embedded in fp32 on both sides, as CheckedBackend does
        sims_fast = reference.registry.similarities(v_fast, cleaned)
        sims_ref = reference.registry.similarities(v_ref, cleaned)
    heads = reference.config.heads
    threshold = reference.registry.threshold if reference.registry is not None else None

    def rows(values: Any, part: np.ndarray) -> Any:
        if values is None:
            return None
        return {k: v[part] for k, v in values.items()} if isinstance(values, dict) else values[part]

    def fitted(part: np.ndarray) -> dict[str, float]:
        return fit_margins(heads, rows(s_fast, part), rows(s_ref, part), rows(sims_fast, part), rows(sims_ref, part),
                           threshold)

    everything = np.arange(len(cleaned))
    bounds = fitted(everything)
    rechecked = needs_recheck(heads, s_fast, bounds, sims_fast, threshold)
    changed = {h.name: int(np.sum(decide(h, s_fast[h.name]) != decide(h, s_ref[h.name]))) for h in heads}
    # on the texts the bounds come from, every changed label is rechecked by construction; margins fitted on
    # every other text and applied to the rest tell how well they carry over to unseen posts
    fit_part, held_part = everything[::2], everything[1::2]
    held_rechecked = needs_recheck(heads, rows(s_fast, held_part), fitted(fit_part), rows(sims_fast, held_part),
                                   threshold)
    held_out = {"fitted_on_texts": len(fit_part), "checked_on_texts": len(held_part),
                "rechecked_share": float(held_rechecked.mean()) if len(held_part) else 0.0,
                "int8_labels_changed": {}, "labels_changed_after_recheck": {}}
    for head in heads:
        fast_labels = decide(head, s_fast[head.name][held_part])
        ref_labels = decide(head, s_ref[head.name][held_part])
        after = np.where(held_rechecked, ref_labels, fast_labels)
        held_out["int8_labels_changed"][head.name] = int(np.sum(fast_labels != ref_labels))
        held_out["labels_changed_after_recheck"][head.name] = int(np.sum(after != ref_labels))
    if sims_fast is not None and threshold is not None:  # which claim matches, or none
        fast_match = registry_scores(sims_fast[held_part], threshold).argmax(axis=1)
        ref_match = registry_scores(sims_ref[held_part], threshold).argmax(axis=1)
        held_out["int8_labels_changed"][REGISTRY] = int(np.sum(fast_match != ref_match))
        held_out["labels_changed_after_recheck"][REGISTRY] = int(np.sum(
            np.where(held_rechecked, ref_match, fast_match) != ref_match))
    log.info("%s: margins %s recheck %.1f%% of %d texts; held out: %s", backends.CHECKED_INT8, bounds,
             100 * rechecked.mean(), len(cleaned), held_out)
    return {"bounds": bounds, "fitted_on_texts": len(cleaned), "rechecked_share": float(rechecked.mean()),
            "int8_labels_changed": changed, "held_out": held_out, "reference": "fp32 (cur_nlp.bert or transformers)"}


def prepared_check_texts(
    data_dir: Path, split: str = "dev", max_texts: int = 4000, load_prepared: Any | None = None,
) -> tuple[list[str], list[str | None]]:
    """Texts and topic labels of one split of every prepared source in ``data_dir`` (``cur-nlp data prepare``),
    thinned to at most ``max_texts`` by taking every k-th: what ``cur-nlp export-onnx --data`` checks on."""
    if load_prepared is None:
        from training.splits import load_prepared
    texts: list[str] = []
    topics: list[str | None] = []
    for source in sorted(p.name for p in Path(data_dir).iterdir() if p.is_dir()):
        rows = load_prepared(data_dir, source)[split]
        texts += list(rows["text"])
        topics += list(rows["topic"]) if "topic" in rows.column_names else [None] * len(rows)
    step = max(1, len(texts) // max_texts) if texts else 1
    return texts[::step][:max_texts], topics[::step][:max_texts]


def _passes(check: dict[str, Any], name: str, min_agreement: float, max_f1_drop: float) -> bool:
    """Every head agrees with torch on at least ``min_agreement`` of the texts, and neither topic macro-F1 nor
    topic accuracy is more than ``max_f1_drop`` below torch's. Strict on purpose: with rare classes one changed
    label can move macro-F1 by more than half a point, so a backend may fail on noise and ``auto`` then falls
    back to one that passed (torch at worst); the recorded bootstrap interval tells noise from loss."""
    if min(check["agreement"].values()) < min_agreement:
        return False
    f1 = check.get("topic_macro_f1")
    if not f1:
        return True
    return f1["accuracy_torch"] - f1["accuracy"] <= max_f1_drop and f1["torch"] - f1[name] <= max_f1_drop


DEFAULT_FP32_NODE_COUNTS = (0, 2, 4, 6, 8, 12, 16, 24)
"""How many of the most sensitive matmuls the int8 export tries to keep in fp32, in order: the first count whose
int8 file passes the check is kept (each fp32 FFN projection of a 384-wide encoder adds about 1.8 MB)."""


def export_onnx(
    model_dir: str | Path,
    quantize: bool = True,
    *,
    keep_fp32: bool | None = None,
    texts: Sequence[str] | None = None,
    topic_labels: Sequence[str | None] | None = None,
    per_channel: bool = True,
    fuse: bool = True,
    smooth_alphas: Sequence[float | None] = (None, 0.5, 0.6, 0.7, 0.8),
    calibration_texts: int = 256,
    fp32_node_counts: Sequence[int] = DEFAULT_FP32_NODE_COUNTS,
    check_bf16: bool | None = None,
    write_onnx: bool = True,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    max_f1_drop: float = DEFAULT_MAX_F1_DROP,
) -> dict[str, Any]:
    """Export ``encoder.onnx`` (fp32) and, with ``quantize``, ``encoder.int8.onnx`` into ``model_dir``, check them
    against torch on ``texts`` (a built-in smoke set when none) and record them in ``config.json``.

    ``keep_fp32`` (default: only when not quantising) keeps the fp32 file next to the int8 one; it is about
    4x larger, so a shipped model directory usually holds the int8 file only. The int8 graph is smoothed
    (SmoothQuant) before quantisation, with the strength picked among ``smooth_alphas`` on the first
    ``calibration_texts`` check texts (see :func:`quantize_calibrated`), or with the factors the model was trained
    with when the directory has ``SMOOTHING_FILE``. When the fully quantised file fails the
    check, the export keeps the most sensitive matmuls in fp32 (ranked on the same calibration texts, see
    :class:`MixedInt8`), trying the counts of ``fp32_node_counts`` in order and keeping the first file that passes
    (or the last tried, recorded as failed); ``fp32_node_counts=(0,)`` quantises every matmul. With ``quantize``,
    the kept int8 file is also recorded as ``onnx-int8-checked`` with the recheck margins :func:`fit_recheck`
    measures on the check texts, and checked like the others. ``check_bf16``
    (default: where the CPU has native bf16) also checks the file-less ``torch-bf16`` backend and records it;
    ``write_onnx=False`` writes no ONNX file (and removes existing ones) and only checks that. Returns the recorded
    ``extra["backends"]`` entry.
    """
    from cur_nlp.encoder import MultiHeadModel

    directory = Path(model_dir)
    keep_fp32 = (not quantize) if keep_fp32 is None else keep_fp32
    config = ModelConfig.load(directory)
    model = MultiHeadModel.load(directory, config)
    fp32_path, int8_path = directory / ONNX_FILES["onnx"], directory / ONNX_FILES["onnx-int8"]
    counts = list(fp32_node_counts) or [0]

    started = time.perf_counter()
    check_texts = list(texts) if texts else FALLBACK_CHECK_TEXTS
    calibration: dict[str, Any] | None = None
    mixed: MixedInt8 | None = None
    fused: dict[str, int] = {}
    if not write_onnx:
        for path in (fp32_path, int8_path):
            if path.exists():
                log.info("removing %s (--no-onnx)", path)
                path.unlink()
    else:
        fused, calibration, mixed = _write_onnx_files(model, config, directory, check_texts, quantize, fuse,
                                                      calibration_texts, smooth_alphas, per_channel, counts[0])
    export_seconds = time.perf_counter() - started

    # record what exists first (checks load the backends by name), then the checks
    def record(backends: dict[str, Any]) -> None:
        current = ModelConfig.load(directory)
        current.extra["backends"] = backends
        current.save(directory)

    names = (["onnx"] + (["onnx-int8", backends.CHECKED_INT8] if quantize else [])) if write_onnx else []
    entries: dict[str, Any] = {
        name: {"file": ONNX_FILES[name], "bytes": (directory / ONNX_FILES[name]).stat().st_size, "passed": False}
        for name in names
    }
    if check_bf16 is None:
        check_bf16 = backends.native_bf16()
    if check_bf16:  # no file: the bf16 copy of the encoder is made from model.safetensors at load time
        names.append("torch-bf16")
        entries["torch-bf16"] = {"file": None, "bytes": 0, "passed": False}
    record(entries)
    from cur_nlp.classifier import ComplaintClassifier

    reference = ComplaintClassifier.from_pretrained(directory, backend="torch")
    cache: dict[str, Any] = {}
    criteria = {"min_agreement": min_agreement, "max_topic_f1_drop": max_f1_drop}

    def checked(name: str) -> tuple[dict[str, Any], bool]:
        check = check_backend(directory, name, check_texts, topic_labels if texts else None, reference, cache=cache)
        check["texts"] = "given" if texts else "built-in smoke set"
        return check, _passes(check, name, min_agreement, max_f1_drop)

    try:
        for name in names:
            if name == backends.CHECKED_INT8:  # margins of the int8 file the ladder kept, recorded before its check
                entries[name]["bytes"] = int8_path.stat().st_size
                entries[name]["recheck"] = fit_recheck(directory, check_texts, reference, cache)
                record(entries)
            check, passed = checked(name)
            entries[name]["quantization"] = None
            if name == "onnx-int8":
                assert mixed is not None
                quantization = {"type": "dynamic", "weights": "QInt8", "per_channel": per_channel, **(calibration or {}),
                                "fp32_nodes": mixed.kept, "tries": [_try_summary(counts[0], check, passed)]}
                ladder_started = time.perf_counter()
                for count in counts[1:]:
                    if passed:
                        break
                    mixed.write(int8_path, count)
                    check, passed = checked(name)
                    quantization["tries"].append(_try_summary(count, check, passed))
                    quantization["fp32_nodes"] = mixed.kept
                    entries[name]["bytes"] = int8_path.stat().st_size
                quantization["ladder_seconds"] = round(time.perf_counter() - ladder_started, 1)
                if mixed.sensitivity is not None:
                    quantization["node_sensitivity"] = {k: float(f"{v:.3g}") for k, v in mixed.sensitivity.items()}
                entries[name]["quantization"] = quantization
            entries[name].update(passed=passed, check=check, criteria=criteria)
            entries[name]["fused_ops"] = fused if name != "torch-bf16" else None
            log.info("%s: %s", name, json.dumps({k: v for k, v in entries[name].items() if k != "quantization"},
                                                ensure_ascii=False))
    finally:
        if mixed is not None and mixed.source != fp32_path:
            mixed.source.unlink(missing_ok=True)
    if write_onnx and not keep_fp32:
        fp32_path.unlink()
        entries.pop("onnx")
    for entry in entries.values():
        if entry["file"]:
            entry["export_seconds"] = round(export_seconds, 1)
    record(entries)
    return entries


def _try_summary(fp32_nodes: int, check: dict[str, Any], passed: bool) -> dict[str, Any]:
    """One rung of the fp32-node ladder as recorded: its count, result, agreement and topic F1 difference."""
    f1 = check.get("topic_macro_f1") or {}
    return {"fp32_nodes": fp32_nodes, "passed": passed, "agreement": check["agreement"],
            "min_cosine": check["min_cosine"],
            "topic_macro_f1_diff": (f1["difference"]["diff"] if f1 else None),
            "topic_accuracy_diff": (f1["accuracy"] - f1["accuracy_torch"] if f1 else None)}


def _write_onnx_files(
    model: Any, config: ModelConfig, directory: Path, check_texts: Sequence[str], quantize: bool, fuse: bool,
    calibration_texts: int, smooth_alphas: Sequence[float | None], per_channel: bool, fp32_nodes: int = 0,
) -> tuple[dict[str, int], dict[str, Any] | None, MixedInt8 | None]:
    """Write ``encoder.onnx`` (fused when equivalent) and, with ``quantize``, ``encoder.int8.onnx`` (its
    ``fp32_nodes`` most sensitive matmuls left in fp32); returns the fused operator counts, the int8 calibration
    record and the :class:`MixedInt8` that can rewrite the int8 file (its source graph is removed by the caller)."""
    import torch

    hidden = model.encoder.config.hidden_size
    fp32_path, int8_path = directory / ONNX_FILES["onnx"], directory / ONNX_FILES["onnx-int8"]
    export_fp32(model, fp32_path)
    generator = torch.Generator().manual_seed(0)
    embeds = torch.randn(3, 11, hidden, generator=generator)
    mask = torch.ones(3, 11, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    with torch.inference_mode():
        expected = _pooled_encoder(model)(embeds, mask).numpy()
    fused = fuse_transformer(fp32_path, model.encoder.config.num_attention_heads, hidden,
                             (embeds.numpy(), mask.numpy(), expected)) if fuse else {}
    if not quantize:
        int8_path.unlink(missing_ok=True)
        return fused, None, None
    from cur_nlp.backends import load_word_embeddings
    from cur_nlp.classifier import load_tokenizer

    batches = _token_batches(load_tokenizer(directory), config, check_texts[:calibration_texts])
    calibration, mixed = quantize_calibrated(fp32_path, int8_path, load_word_embeddings(directory), batches,
                                             alphas=smooth_alphas, per_channel=per_channel,
                                             trained=trained_smoothing(directory, fp32_path),
                                             keep_source=directory / "encoder.int8-source.tmp.onnx")
    if fp32_nodes:
        mixed.write(int8_path, fp32_nodes)
    return fused, calibration, mixed
