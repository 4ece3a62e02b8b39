"""Shared fixtures: a tiny random model (no downloads, no ../shared) and the real default model (session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

try:  # property tests: the same examples on every run, so CI is reproducible
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("cur_nlp", derandomize=True, deadline=None)
    _hypothesis_settings.load_profile("cur_nlp")
except ImportError:  # pragma: no cover
    pass

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEFAULT_MODEL = REPO / "models" / "default"

SAMPLE_TEXTS = [
    "Во дворе дома 5 на улице Ленина открыт люк, дети играют рядом",
    "В подъезде не работает лифт уже неделю",
    "На тротуаре гололёд, люди падают",
    "Спасибо за ремонт детской площадки!",
    "Мусор не вывозят третий день, контейнеры переполнены",
    "Яма на дороге у остановки, машины бьют колёса",
    "Граффити на стене дома",
    "В поликлинике нельзя записаться к врачу",
]


def min_cosine(first, second, texts=SAMPLE_TEXTS) -> float:
    """Smallest cosine between the pooled vectors two classifiers give the same texts."""
    import numpy as np

    a, _ = first.embed(texts)
    b, _ = second.embed(texts)
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())


def padded_batch(clf, texts=SAMPLE_TEXTS):
    """Token ids of ``texts`` as ``ComplaintClassifier.embed`` feeds the encoder (text prefix, right padding) and
    their attention mask, both int64 ``(n, longest)``."""
    from cur_nlp.batching import encode, pad

    ids, _ = encode(clf.tokenizer, texts, clf.config.text_prefix, clf.config.max_length)
    return pad(ids, clf.tokenizer.pad_token_id or 0)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False, help="run slow corpus/real-model tests")


REAL_MODULES = {"test_notebooks", "test_golden_real", "test_data", "test_geo_eval", "test_serve_fuzz"}
"""Test modules that read ../shared corpora, run notebooks or fuzz the service: marked ``real``."""


def pytest_collection_modifyitems(config, items):
    """Mark tests of the real model, corpora and notebooks ``real`` (``make test-fast`` leaves them out), and skip
    ``slow`` ones unless ``--run-slow``."""
    skip = pytest.mark.skip(reason="slow test: run with --run-slow")
    for item in items:
        if "default_classifier" in getattr(item, "fixturenames", ()) or item.module.__name__ in REAL_MODULES:
            item.add_marker(pytest.mark.real)
        if "slow" in item.keywords and not config.getoption("--run-slow"):
            item.add_marker(skip)


def build_tiny_model(directory: Path, heads=None) -> Path:
    """A randomly initialised 2-layer BERT with a WordPiece tokenizer trained on a few Russian sentences."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    from cur_nlp.encoder import MultiHeadModel
    from cur_nlp.labels import URGENCY_LEVELS, topic_ids
    from cur_nlp.model_dir import HeadSpec, ModelConfig

    torch.manual_seed(0)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(SAMPLE_TEXTS * 3 + ["query: passage:"], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    encoder = BertModel(BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                                   num_attention_heads=2, intermediate_size=64, max_position_embeddings=128),
                        add_pooling_layer=False)
    heads = heads or [
        HeadSpec("topic", "multiclass", topic_ids()),
        HeadSpec("urgency", "multiclass", list(URGENCY_LEVELS)),
        HeadSpec("fake", "binary", ["false", "true"]),
    ]
    config = ModelConfig(name="tiny-test", version="0.0.1", heads=heads, base_model="random", max_length=32)
    model = MultiHeadModel(encoder, config).eval()
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory)
    tokenizer.save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model_dir):
    from cur_nlp.classifier import ComplaintClassifier

    return ComplaintClassifier.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def default_classifier():
    """The shipped model, loaded once per session."""
    from cur_nlp.classifier import ComplaintClassifier

    if not (DEFAULT_MODEL / "config.json").exists():
        pytest.skip("no shipped model in models/default")
    return ComplaintClassifier.from_pretrained(DEFAULT_MODEL)


requires_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data and base model) is absent")


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """A tiny random encoder saved in plain Hugging Face format, usable as ``base_model`` for training tests."""
    from transformers import AutoTokenizer

    from cur_nlp.encoder import MultiHeadModel
    from cur_nlp.model_dir import ModelConfig

    out = tmp_path_factory.mktemp("tiny_encoder")
    model = MultiHeadModel.load(tiny_model_dir, ModelConfig.load(tiny_model_dir))
    model.encoder.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(str(out))
    return out


@pytest.fixture(scope="session", autouse=True)
def service_registry(tmp_path_factory):
    """Services built by tests keep their fakes registry in a temporary SQLite file, not in the working directory."""
    import os

    path = tmp_path_factory.mktemp("registry") / "registry.db"
    previous = os.environ.get("CUR_NLP_REGISTRY")
    os.environ["CUR_NLP_REGISTRY"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("CUR_NLP_REGISTRY", None)
    else:
        os.environ["CUR_NLP_REGISTRY"] = previous


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A fresh database: an SQLite file, or the PostgreSQL server that .ci/run starts (tables dropped first) when
    ``CUR_NLP_TEST_DATABASE_URL`` names it."""
    if request.param == "sqlite":
        return str(tmp_path / "registry.db")
    url = os.environ.get("CUR_NLP_TEST_DATABASE_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set CUR_NLP_TEST_DATABASE_URL (.ci/run starts one with .ci/postgres)")
    from cur_nlp.database import metadata, open_database

    engine = open_database(url)
    metadata.drop_all(engine)
    engine.dispose()
    return url
