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
from cur_nlp.batching import clean_texts, encode, sorted_batches
from cur_nlp.decoding import calibrated, head_predictions, mix_logits
from cur_nlp.fakes.decision import decide_fake
from cur_nlp.heads import LinearHeads
from cur_nlp.model_dir import ModelConfig
from cur_nlp.normalize import replace_surrogates
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
        self.directory: Path | None = None
        """The model directory this classifier was loaded from."""
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
        ``registry`` is the registry of debunked claims consulted for the ``fake`` head: a ``.jsonl``/``.csv`` file,
        an SQLite ``.db`` file or an SQLAlchemy URL (default: ``known_fakes.jsonl`` of the model directory, if any;
        see :meth:`use_registry`).
        ``backend`` runs the encoder: ``"torch"`` (fp32), ``"torch-bf16"``, ``"onnx"``, ``"onnx-int8"`` (files
        written by ``cur-nlp export-onnx``) or ``"auto"``: bf16 where the CPU multiplies bf16 in hardware and the
        model's recorded bf16 check passed, else an exported ONNX file whose check passed, else torch fp32 (see
        :mod:`cur_nlp.backends.policy`; ``cur-nlp info`` says what it picks here and why). The
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
        if config.extra.sparse is not None:
            from cur_nlp.sparse import SparseHeads

            sparse = SparseHeads.load(directory)
        classifier = cls(model, tokenizer, config, sparse=sparse, heads=heads,
                         backend=select_backend(backend, directory, config, model, num_threads))
        if locate is True:
            from cur_nlp.geo import Locator

            classifier.locator = Locator.default()
        elif locate:
            classifier.locator = locate
        classifier.directory = directory
        registry_location = registry or (directory / "known_fakes.jsonl")
        if registry or Path(registry_location).exists():
            classifier.use_registry(registry_location)
        return classifier

    def use_registry(self, location: str | Path | None) -> None:
        """Match posts against the debunked claims of ``location``: a ``.jsonl``/``.csv`` file or a database (an
        SQLAlchemy URL or an SQLite ``.db`` file, see :mod:`cur_nlp.fakes.store`); ``None`` turns matching off."""
        from cur_nlp.fakes.matcher import FakeMatcher

        self.registry = None if location is None else FakeMatcher.open(location, self)

    @property
    def fingerprint(self) -> str:
        """Names the model whose vectors the registry stores (name, version and head sizes)."""
        return f"{self.config.name}@{self.config.version}/{self.heads.hidden_size}"

    def embed_claims(self, claims: Sequence[str]) -> np.ndarray:
        """Encoder vectors of claim texts, as the registry stores them."""
        return self.embed(claims)[0]

    @property
    def head_names(self) -> list[str]:
        """Names of the model's heads, in config order."""
        return [h.name for h in self.config.heads]

    def __call__(self, text: str) -> Prediction:
        """Prediction for one post."""
        return self.predict([text])[0]

    def embed(self, texts: Sequence[str], batch_size: int = 64,
              normalized: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Pooled encoder vectors of ``texts`` (already cleaned by :func:`~cur_nlp.batching.clean_texts` when
        ``normalized``) and whether each text was longer than the model reads; output in input order."""
        cleaned = list(texts) if normalized else clean_texts(texts)
        ids, truncated = encode(self.tokenizer, cleaned, self.config.text_prefix, self.config.max_length)
        vectors = np.zeros((len(cleaned), self.heads.hidden_size), dtype=np.float32)
        batches = sorted_batches(ids, batch_size, self.tokenizer.pad_token_id or 0,
                                 getattr(self.backend, "width_multiple", 1), self.config.max_length, truncated)
        for rows, input_ids, mask in batches:
            vectors[rows] = self.backend.embed(input_ids, mask)
        return vectors, truncated

    def head_logits(self, vectors: np.ndarray, cleaned: Sequence[str], features: Any | None = None) -> dict[str, np.ndarray]:
        """Uncalibrated logits per head: the encoder heads, mixed with the sparse n-gram heads when the model has them
        (``features``: the texts' precomputed sparse features, to avoid computing them twice)."""
        logits = self.heads.logits(vectors)
        if self.sparse is None:
            return logits
        if features is None:
            features = self.sparse.features(list(cleaned))
        return mix_logits(logits, self.sparse.logits(features=features), self.config.extra.sparse.alpha)

    def probabilities(self, vectors: np.ndarray, cleaned: Sequence[str],
                      features: Any | None = None) -> dict[str, np.ndarray]:
        """Calibrated probabilities per head from the texts' encoder vectors (and cleaned texts, for the sparse
        heads): the step after :meth:`embed`."""
        return calibrated(self.config.heads, self.head_logits(vectors, cleaned, features))

    def predict_scores(self, texts: Sequence[str], batch_size: int = 64) -> dict[str, np.ndarray]:
        """Calibrated probabilities per head, ``{head: array (n_texts, n_labels)}``, columns in label order."""
        cleaned = clean_texts(texts)
        vectors, _ = self.embed(cleaned, batch_size, normalized=True)
        return self.probabilities(vectors, cleaned)

    def predict(self, texts: Sequence[str], batch_size: int = 64, top_k: int = 3) -> list[Prediction]:
        """Predictions for many posts, in input order. Empty posts get ``empty=True`` and no head decisions."""
        if isinstance(texts, str):
            raise TypeError("predict expects a list of texts; call the classifier itself for one text")
        raw = list(texts)
        cleaned = clean_texts(raw)
        readable = [i for i, t in enumerate(cleaned) if t.strip()]
        results = [Prediction(empty=True) for _ in cleaned]
        if readable:
            texts_read = [cleaned[i] for i in readable]
            vectors, truncated = self.embed(texts_read, batch_size, normalized=True)
            features = self.sparse.features(texts_read) if self.sparse is not None else None
            scores = self.probabilities(vectors, texts_read, features)
            matches = (self.registry.match(vectors, texts_read, features) if self.registry is not None
                       else [None] * len(readable))
            for head in self.config.heads:
                for index, decision in zip(readable, head_predictions(head, scores[head.name], top_k)):
                    results[index].heads[head.name] = decision
            for row, index in enumerate(readable):
                results[index].empty = False
                results[index].truncated = bool(truncated[row])
                if "fake" in results[index].heads:
                    results[index].heads["fake"] = decide_fake(results[index].heads["fake"], matches[row])
        if self.locator is not None:
            # surrogates replaced one for one, so that offsets still refer to the caller's text
            for index, found in zip(readable, self._locate([replace_surrogates(raw[i]) for i in readable])):
                results[index].locations = list(found)
            for index in set(range(len(raw))) - set(readable):
                results[index].locations = []
        return results

    def _locate(self, texts: list[str]) -> list[list]:
        """Places of each text: one batched call when the locator has ``locate_many`` (``cur_nlp.geo.Locator``)."""
        many = getattr(self.locator, "locate_many", None)
        return many(texts) if many is not None else [self.locator(text) for text in texts]

    def explain(self, text: str, heads: list[str] | None = None, *, max_words: int | None = None,
                batch_size: int = 64):
        """Words that pushed each head's decision on ``text`` (occlusion; ``max_words``: weigh only the first
        words; see :mod:`cur_nlp.explain`)."""
        from cur_nlp.explain import explain

        return explain(self, text, heads, max_words=max_words, batch_size=batch_size)

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
