"""``ComplaintClassifier``: the one entry point that reads posts and returns typed predictions.

>>> clf = ComplaintClassifier.from_pretrained()          # doctest: +SKIP
>>> clf("Во дворе открыт люк, дети бегают рядом").urgency.label   # doctest: +SKIP
'critical'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np

from cur_nlp.backends import EncoderBackend, TorchBackend, resolve_backend, select_backend
from cur_nlp.heads import LinearHeads
from cur_nlp.model_dir import HeadSpec, ModelConfig
from cur_nlp.normalize import normalize_text
from cur_nlp.results import HeadPrediction, Prediction
from cur_nlp.tokenizer import EncoderTokenizer

if TYPE_CHECKING:  # pragma: no cover
    from cur_nlp.encoder import MultiHeadModel

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"
"""The embedded default model (``models/default`` in the repository); ``CUR_NLP_MODEL`` overrides it."""


def default_model_path() -> Path:
    """Where ``from_pretrained()`` with no argument looks: ``$CUR_NLP_MODEL`` or ``models/default``."""
    return Path(os.environ.get("CUR_NLP_MODEL", DEFAULT_MODEL_DIR))


def load_tokenizer(directory: str | Path) -> EncoderTokenizer:
    """The tokenizer of a model directory (:class:`~cur_nlp.tokenizer.EncoderTokenizer`: ``tokenizer.json`` read
    by the ``tokenizers`` library, the same ids as ``AutoTokenizer``, no transformers import)."""
    return EncoderTokenizer.from_dir(directory)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``."""
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def mix_logits(encoder: dict[str, np.ndarray], sparse: dict[str, np.ndarray], alpha: dict[str, float]) -> dict[str, np.ndarray]:
    """Per head ``(1 - a) * log p_encoder + a * log p_sparse``; heads without sparse weights stay as they are."""
    mixed = {}
    for name, logits in encoder.items():
        a = alpha.get(name, 0.0)
        mixed[name] = logits if name not in sparse or a == 0 else (1 - a) * log_softmax(logits) + a * log_softmax(sparse[name])
    return mixed


def decide(head: HeadSpec, probs: np.ndarray) -> np.ndarray:
    """Label indices chosen from calibrated probabilities by the head's decision rule."""
    if head.type == "binary":
        return (probs[:, 1] >= head.threshold).astype(int)
    scores = np.log(np.clip(probs, 1e-12, 1.0))
    if head.class_bias is not None:
        scores = scores + np.asarray(head.class_bias)
    return scores.argmax(axis=-1)


class ComplaintClassifier:
    """Topic, urgency and fake (and any other trained head) for Russian social-network posts.

    Build with :meth:`from_pretrained`; call on one text (``clf(text)``) or many (``clf.predict(texts)``).
    """

    def __init__(
        self,
        model: "MultiHeadModel | None",
        tokenizer: Any,
        config: ModelConfig,
        locator: Callable[[str], list] | None = None,
        registry: Any | None = None,
        backend: EncoderBackend | None = None,
        sparse: Any | None = None,
        heads: LinearHeads | None = None,
    ) -> None:
        if model is None and (backend is None or heads is None):
            raise ValueError("without a torch model, pass both the encoder backend and the heads")
        self.model = model
        """The torch network (encoder + heads); ``None`` on the ONNX backends, which never load torch."""
        self.sparse = sparse
        self.tokenizer = tokenizer
        self.config = config
        self.locator = locator
        self.registry = registry
        self.backend: EncoderBackend = backend or TorchBackend(model)
        self.heads = heads or LinearHeads.from_model(model)

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        *,
        locate: Any = False,
        registry: str | Path | None = None,
        num_threads: int | None = None,
        backend: str = "auto",
    ) -> "ComplaintClassifier":
        """Load a model directory (default: the embedded model).

        ``locate=True`` adds place extraction and geocoding (``cur_nlp.geo.Locator.default()``) to every
        prediction; pass a configured ``Locator`` instead (own street registry, default region/city) to use it;
        ``registry`` is a JSONL file of known fakes consulted for the ``fake`` head
        (default: the registry shipped in the model directory, if any).
        ``backend`` runs the encoder: ``"torch"`` (fp32), ``"torch-bf16"``, ``"onnx"``, ``"onnx-int8"`` (files
        written by ``cur-nlp export-onnx``), ``"onnx-int8-checked"`` (int8, with the posts near a decision boundary
        re-encoded in fp32: see :mod:`cur_nlp.recheck`) or ``"auto"``: the fastest backend that ``cur-nlp export-onnx`` checked
        against torch on this model and that this machine can run, else torch (see :mod:`cur_nlp.backends`). The
        encoder weights are loaded once, in the dtype the backend runs. Only ``torch`` (the reference) builds the
        transformers model, kept as :attr:`model`; ``torch-bf16`` runs :mod:`cur_nlp.bert` where it supports the
        encoder, and the ONNX backends need neither transformers nor torch, so :attr:`model` is ``None`` for them.
        """
        directory = Path(path) if path is not None else default_model_path()
        if not directory.is_dir():
            raise FileNotFoundError(
                f"model directory {directory} not found; pass the path of a model trained with `cur-nlp train`"
            )
        config = ModelConfig.load(directory)
        backend = resolve_backend(backend, directory, config)
        model = None
        if backend == "torch":  # the reference; torch-bf16 and the ONNX backends load their own encoder weights
            from cur_nlp.encoder import MultiHeadModel

            model = MultiHeadModel.load(directory, config)
        heads = LinearHeads.load(directory, config) if model is None else None  # else read off the loaded model
        tokenizer = load_tokenizer(directory)
        sparse = None
        if "sparse" in config.extra:
            from cur_nlp.sparse import SparseHeads

            sparse = SparseHeads.load(directory)
        classifier = cls(model, tokenizer, config, sparse=sparse, heads=heads,
                         backend=select_backend(backend, directory, config, model, num_threads))
        if locate is True:
            from cur_nlp.geo import Locator

            classifier.locator = Locator.default()
        elif locate:
            classifier.locator = locate
        registry_path = Path(registry) if registry else directory / "known_fakes.jsonl"
        if registry or registry_path.exists():
            from cur_nlp.registry import FakeRegistry

            classifier.registry = FakeRegistry.from_file(registry_path, classifier)
        return classifier

    @property
    def head_names(self) -> list[str]:
        return [h.name for h in self.config.heads]

    def __call__(self, text: str) -> Prediction:
        """Prediction for one post."""
        return self.predict([text])[0]

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        if isinstance(texts, str):
            raise TypeError("predict expects a list of texts; call the classifier itself for one text")
        cleaned = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text #{index}: expected str, found {type(text).__name__}")
            cleaned.append(normalize_text(text))
        return cleaned

    def embed(self, texts: Sequence[str], batch_size: int = 64, normalized: bool = False,
              exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Pooled encoder vectors of (already normalised when ``normalized``) texts, and a truncated flag per text.

        Texts are sorted by length so that each batch carries little padding; the output keeps input order.
        ``exact``: use the fp32 reference encoder where the backend has one (``onnx-int8-checked``).
        """
        backend = getattr(self.backend, "reference", self.backend) if exact else self.backend
        cleaned = list(texts) if normalized else self._prepare(texts)
        prefixed = [self.config.text_prefix + t for t in cleaned]
        # one token over the limit tells us the text was longer than the model reads
        encoded = self.tokenizer(prefixed, truncation=True, max_length=self.config.max_length + 1)["input_ids"]
        lengths = np.array([len(ids) for ids in encoded])
        truncated = lengths > self.config.max_length
        order = np.argsort(lengths, kind="stable")
        vectors = np.zeros((len(cleaned), self.heads.hidden_size), dtype=np.float32)
        pad_id = self.tokenizer.pad_token_id or 0
        widths = np.minimum(lengths, self.config.max_length)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = self._padded_width(int(widths[batch].max()), backend)
            input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : widths[i]] = self._clip(encoded[i])
            mask = (np.arange(width) < widths[batch, None]).astype(np.int64)
            vectors[batch] = backend.embed(input_ids, mask)
        return vectors, truncated

    def _padded_width(self, width: int, backend: EncoderBackend | None = None) -> int:
        """Batch width rounded up to the backend's (default: :attr:`backend`) ``width_multiple`` (if it asks for one),
        within the model's limit."""
        multiple = getattr(backend or self.backend, "width_multiple", 1)
        return min(-(-width // multiple) * multiple, max(width, self.config.max_length))

    def _clip(self, ids: list[int]) -> list[int]:
        limit = self.config.max_length
        return ids if len(ids) <= limit else ids[: limit - 1] + [ids[-1]]

    def head_logits(self, vectors: np.ndarray, cleaned: Sequence[str], features: Any | None = None) -> dict[str, np.ndarray]:
        """Uncalibrated logits per head: the encoder heads, mixed with the sparse n-gram heads when the model has them
        (``features``: the texts' precomputed sparse features, to avoid computing them twice)."""
        logits = self.heads.logits(vectors)
        if self.sparse is None:
            return logits
        if features is None:
            features = self.sparse.features(list(cleaned))
        return mix_logits(logits, self.sparse.logits(features=features), self.config.extra["sparse"]["alpha"])

    def _scores_from_vectors(self, vectors: np.ndarray) -> dict[str, np.ndarray]:
        """Encoder-head probabilities only (no sparse mixing): for comparing encoder backends."""
        logits = self.heads.logits(vectors)
        return {h.name: softmax(logits[h.name], h.temperature) for h in self.config.heads}

    def _scores(self, vectors: np.ndarray, cleaned: Sequence[str], features: Any | None = None) -> dict[str, np.ndarray]:
        logits = self.head_logits(vectors, cleaned, features)
        return {h.name: softmax(logits[h.name], h.temperature) for h in self.config.heads}

    def predict_scores(self, texts: Sequence[str], batch_size: int = 64) -> dict[str, np.ndarray]:
        """Calibrated probabilities per head, ``{head: array (n_texts, n_labels)}``, columns in label order."""
        cleaned = self._prepare(texts)
        vectors, _ = self.embed(cleaned, batch_size, normalized=True)
        features = self.sparse.features(cleaned) if self.sparse is not None and cleaned else None
        scores = self._scores(vectors, cleaned, features)
        self._recheck(cleaned, vectors, scores, features, batch_size)
        return scores

    def _recheck(self, cleaned: Sequence[str], vectors: np.ndarray, scores: dict[str, np.ndarray],
                 features: Any | None, batch_size: int) -> None:
        """With a backend that records recheck margins (``onnx-int8-checked``): re-encode in fp32 the posts whose
        decision on some head, or on the known-fakes registry, lies within its margin, and overwrite their rows of
        ``vectors`` and ``scores`` in place (see :mod:`cur_nlp.recheck`)."""
        bounds = getattr(self.backend, "bounds", None)
        if not bounds or not len(cleaned):
            return
        from cur_nlp.recheck import REGISTRY, needs_recheck

        similarities = threshold = None
        if self.registry is not None and REGISTRY in bounds:
            similarities = self.registry.similarities(vectors, list(cleaned), features)
            threshold = self.registry.threshold
        rows = np.flatnonzero(needs_recheck(self.config.heads, scores, bounds, similarities, threshold))
        self.backend.posts += len(cleaned)
        self.backend.rechecked += len(rows)
        if not len(rows):
            return
        texts = [cleaned[i] for i in rows]
        vectors[rows] = self.embed(texts, batch_size, normalized=True, exact=True)[0]
        redone = self._scores(vectors[rows], texts, features[rows] if features is not None else None)
        for name, values in redone.items():
            scores[name][rows] = values

    def predict(self, texts: Sequence[str], batch_size: int = 64, top_k: int = 3) -> list[Prediction]:
        """Predictions for many posts, in input order. Empty posts get ``empty=True`` and no head decisions."""
        if isinstance(texts, str):
            raise TypeError("predict expects a list of texts; call the classifier itself for one text")
        raw = list(texts)
        cleaned = self._prepare(raw)
        readable = [i for i, t in enumerate(cleaned) if t.strip()]
        results = [Prediction(empty=True) for _ in cleaned]
        if readable:
            texts_read = [cleaned[i] for i in readable]
            vectors, truncated = self.embed(texts_read, batch_size, normalized=True)
            features = self.sparse.features(texts_read) if self.sparse is not None else None
            scores = self._scores(vectors, texts_read, features)
            self._recheck(texts_read, vectors, scores, features, batch_size)
            matches = (self.registry.match(vectors, texts_read, features) if self.registry is not None
                       else [None] * len(readable))
            for head in self.config.heads:
                for index, decision in zip(readable, self._head_predictions(head, scores[head.name], top_k)):
                    results[index].heads[head.name] = decision
            for row, index in enumerate(readable):
                results[index].empty = False
                results[index].truncated = bool(truncated[row])
                if matches[row] is not None and "fake" in results[index].heads:
                    claim_id, similarity = matches[row]
                    results[index].heads["fake"] = HeadPrediction(True, float(similarity), matched_claim=claim_id)
        if self.locator is not None:
            for index, found in zip(readable, self._locate([raw[i] for i in readable])):
                results[index].locations = list(found)
            for index in set(range(len(raw))) - set(readable):
                results[index].locations = []
        return results

    def _locate(self, texts: list[str]) -> list[list]:
        """Places of each text: one batched call when the locator has ``locate_many`` (``cur_nlp.geo.Locator``)."""
        many = getattr(self.locator, "locate_many", None)
        return many(texts) if many is not None else [self.locator(text) for text in texts]

    @staticmethod
    def _head_predictions(head: HeadSpec, probs: np.ndarray, top_k: int) -> list[HeadPrediction]:
        """The decision of ``head`` for every row of ``probs`` (array work per head, not per post)."""
        chosen = decide(head, probs)
        if head.type == "binary":
            return [HeadPrediction(bool(c), p) for c, p in zip(chosen.tolist(), probs[:, 1].tolist())]
        top = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
        top_probs = np.take_along_axis(probs, top, axis=1).tolist()
        chosen_probs = probs[np.arange(len(probs)), chosen].tolist()
        labels = head.labels
        return [
            HeadPrediction(labels[c], p, tuple((labels[i], q) for i, q in zip(ids, qs)))
            for c, p, ids, qs in zip(chosen.tolist(), chosen_probs, top.tolist(), top_probs)
        ]

    def explain(self, text: str, heads: list[str] | None = None):
        """Words that pushed each head's decision on ``text`` (occlusion; see :mod:`cur_nlp.explain`)."""
        from cur_nlp.explain import explain

        return explain(self, text, heads)

    def iter_predict(self, texts: Iterable[str], batch_size: int = 64, chunk: int = 1024) -> Iterable[Prediction]:
        """Stream predictions over an iterable of any length, ``chunk`` texts at a time."""
        buffer: list[str] = []
        for text in texts:
            buffer.append(text)
            if len(buffer) >= chunk:
                yield from self.predict(buffer, batch_size)
                buffer = []
        if buffer:
            yield from self.predict(buffer, batch_size)
