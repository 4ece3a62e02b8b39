"""The model directory contract: what a trained cur_nlp model directory holds and how it is checked.

A model directory contains::

    config.json            format marker + version, model name/version, pooling, prefix, max length, heads
    encoder/config.json    Hugging Face config of the encoder architecture
    tokenizer.json ...     the tokenizer (fast)
    model.safetensors      encoder and head weights (fp16)
    training_config.yaml   the training configuration that produced it
    metrics.json           evaluation results on held-out splits
    README.md              the model card
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

FORMAT = "cur_nlp.multihead"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
ENCODER_SUBDIR = "encoder"

HEAD_TYPES = ("multiclass", "binary")


@dataclass
class HeadSpec:
    """One prediction head: its name, type and labels, plus the calibration and decision rule tuned on dev.

    ``multiclass`` heads pick ``argmax(log p + class_bias)``, except that a label of ``recall_thresholds`` is chosen
    whenever its probability reaches its threshold (tuned on dev for a recall target, e.g. ``critical``; the first such
    label in label order wins); ``binary`` heads have labels ``[False, True]`` encoded as ``["false", "true"]`` and
    decide ``p(true) >= threshold``.
    """

    name: str
    type: str
    labels: list[str]
    temperature: float = 1.0
    class_bias: list[float] | None = None
    threshold: float = 0.5
    recall_thresholds: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.type not in HEAD_TYPES:
            raise ValueError(f"head {self.name!r}: expected type in {HEAD_TYPES}, found {self.type!r}")
        if self.type == "binary" and self.labels != ["false", "true"]:
            raise ValueError(f"binary head {self.name!r} must have labels ['false', 'true'], found {self.labels}")
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"head {self.name!r}: need at least two distinct labels, found {self.labels}")
        if self.class_bias is not None and len(self.class_bias) != len(self.labels):
            raise ValueError(f"head {self.name!r}: class_bias has {len(self.class_bias)} values for {len(self.labels)} labels")
        unknown = sorted(set(self.recall_thresholds or {}) - set(self.labels))
        if unknown:
            raise ValueError(f"head {self.name!r}: recall_thresholds for unknown labels {unknown}; labels: {self.labels}")


@dataclass
class SparseMix:
    """TF-IDF n-gram heads mixed into the encoder heads (``sparse.safetensors``): the weight ``alpha`` of the sparse
    log-probabilities per head, tuned on dev, and what was measured when tuning."""

    alpha: dict[str, float]
    blocks: str = ""
    dev: dict[str, Any] = field(default_factory=dict)


@dataclass
class BackendRecord:
    """One encoder backend checked against torch fp32 at export (``cur-nlp export-onnx``): its file (``None`` for
    ``torch-bf16``, which needs none), whether its check passed, and the check itself."""

    file: str | None
    bytes: int = 0
    passed: bool = False
    quantization: dict[str, Any] | None = None
    check: dict[str, Any] = field(default_factory=dict)
    criteria: dict[str, Any] = field(default_factory=dict)
    fused_ops: dict[str, int] | None = None
    export_seconds: float | None = None

    RETIRED_KEYS: ClassVar[frozenset[str]] = frozenset({"recheck"})
    """Keys older exports wrote for experiments that were removed; read and dropped."""


def readable_by_all(path: str | Path) -> None:
    """Give a written file the permissions a plain ``open()`` would (safetensors writes 0600, which a service
    running as another user, e.g. the image's non-root user, cannot read)."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


@dataclass
class FakeMatching:
    """How posts are matched to the fakes registry (:mod:`cur_nlp.fakes.matcher`), tuned on dev pairs.

    ``retrieval_threshold``: the lowest post–claim similarity that is a candidate; ``spread_threshold``: the
    lowest p(spreads) that flags a post; ``top_k``: candidates per post; ``lexical_weight``: the weight of TF-IDF
    cosine against encoder cosine in the similarity (models with sparse features); ``tuning``: how they were chosen.
    """

    retrieval_threshold: float
    spread_threshold: float = 0.5
    top_k: int = 3
    lexical_weight: float = 0.5
    tuning: dict[str, Any] | None = None

    @classmethod
    def similarity_only(cls, threshold: float | None) -> "FakeMatching":
        """Settings of a model without a stance model: a match is any claim at or above ``threshold``."""
        return cls(retrieval_threshold=0.9 if threshold is None else float(threshold), spread_threshold=0.5, top_k=1)


@dataclass
class ModelExtras:
    """The optional sections of ``config.json`` (stored under ``extra``), each typed.

    ``sparse``: the TF-IDF mix; ``fakes``: registry matching with stance (models from 0.2);
    ``registry_threshold`` / ``registry_tuning``: the similarity-only match threshold of older models; ``backends``: the backends checked at export; ``distillation``: how a student was made.
    """

    sparse: SparseMix | None = None
    fakes: FakeMatching | None = None
    registry_threshold: float | None = None
    registry_tuning: dict[str, Any] | None = None
    backends: dict[str, BackendRecord] = field(default_factory=dict)
    distillation: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "ModelExtras":
        """Parse the ``extra`` object; unknown sections are an error that names them."""
        data = dict(data or {})
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"config.json: unknown sections in 'extra': {unknown}; "
                             f"expected some of {[f.name for f in fields(cls)]}")
        sparse = data.get("sparse")
        backends = {
            name: BackendRecord(**{k: v for k, v in entry.items() if k not in BackendRecord.RETIRED_KEYS})
            for name, entry in (data.get("backends") or {}).items() if isinstance(entry, dict)
        }
        fakes = data.get("fakes")
        return cls(sparse=SparseMix(**sparse) if isinstance(sparse, dict) else sparse,
                   fakes=FakeMatching(**fakes) if isinstance(fakes, dict) else fakes,
                   registry_threshold=data.get("registry_threshold"), registry_tuning=data.get("registry_tuning"),
                   backends=backends, distillation=data.get("distillation"))

    def to_dict(self) -> dict[str, Any]:
        """The ``extra`` object as stored: empty sections (and a backend's unset export time) left out."""
        data = {k: v for k, v in asdict(self).items() if v not in (None, {})}
        for entry in data.get("backends", {}).values():
            if entry["export_seconds"] is None:
                del entry["export_seconds"]
        return data


@dataclass
class ModelConfig:
    """``config.json`` of a model directory."""

    name: str
    version: str
    heads: list[HeadSpec]
    base_model: str
    pooling: str = "mean"
    text_prefix: str = "query: "
    max_length: int = 128
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    extra: ModelExtras = field(default_factory=ModelExtras)

    def __post_init__(self) -> None:
        self.heads = [h if isinstance(h, HeadSpec) else HeadSpec(**h) for h in self.heads]
        if not isinstance(self.extra, ModelExtras):
            self.extra = ModelExtras.from_dict(self.extra)
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"expected pooling 'mean' or 'cls', found {self.pooling!r}")
        names = [h.name for h in self.heads]
        if len(set(names)) != len(names):
            raise ValueError(f"head names must be unique, found {names}")

    def head(self, name: str) -> HeadSpec:
        """The head called ``name``; ``KeyError`` lists the heads that exist."""
        for head in self.heads:
            if head.name == name:
                return head
        raise KeyError(f"model has no head {name!r}; heads: {[h.name for h in self.heads]}")

    def save(self, directory: str | Path) -> None:
        """Write ``config.json`` into ``directory``."""
        path = Path(directory) / CONFIG_FILE
        data = {**asdict(self), "extra": self.extra.to_dict()}
        for head in data["heads"]:  # older readers do not know the key: leave it out when unused
            if head["recall_thresholds"] is None:
                del head["recall_thresholds"]
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> "ModelConfig":
        """Read and check ``config.json``; errors say which format was expected and which was found."""
        path = Path(directory) / CONFIG_FILE
        if not path.exists():
            raise FileNotFoundError(f"{directory} is not a cur_nlp model directory: {CONFIG_FILE} is missing")
        data = json.loads(path.read_text(encoding="utf-8"))
        found = (data.get("format"), data.get("format_version"))
        if found[0] != FORMAT:
            raise ValueError(f"{path}: expected format {FORMAT!r}, found {found[0]!r}")
        if found[1] != FORMAT_VERSION:
            raise ValueError(
                f"{path}: expected format_version {FORMAT_VERSION}, found {found[1]}; "
                "upgrade cur_nlp or re-export the model"
            )
        return cls(**data)
