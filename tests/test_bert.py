"""cur_nlp.bert: the torch-only BERT encoder of the bf16 backend against transformers' BertModel (the reference)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from cur_nlp import bert
from cur_nlp.backends import TorchBf16Backend
from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.encoder import MultiHeadModel
from cur_nlp.model_dir import ModelConfig

from conftest import DEFAULT_MODEL, SAMPLE_TEXTS, min_cosine, padded_batch


def _compare_fp32(directory, texts) -> float:
    """Largest difference between transformers' and cur_nlp.bert's fp32 hidden states on the real tokens."""
    reference = MultiHeadModel.load(directory, ModelConfig.load(directory)).encoder.eval()
    ours = bert.BertEncoder.from_model_dir(directory, torch.float32)
    clf = ComplaintClassifier.from_pretrained(directory, backend="torch")
    ids, mask = map(torch.as_tensor, padded_batch(clf, texts))
    with torch.inference_mode():
        expected = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        found = ours(ids, mask)
    keep = mask.bool()
    return float((expected[keep] - found[keep]).abs().max())


def test_supports_only_what_it_reproduces(tiny_model_dir):
    config = bert.read_encoder_config(tiny_model_dir)
    assert bert.supports(config)
    assert not bert.supports({**config, "model_type": "xlm-roberta"})  # positions offset by the padding index
    assert not bert.supports({**config, "hidden_act": "gelu_new"})
    assert not bert.supports({**config, "position_embedding_type": "relative_key"})
    assert not bert.supports({**config, "is_decoder": True})
    assert not bert.supports({k: v for k, v in config.items() if k != "layer_norm_eps"})


def test_fp32_hidden_states_equal_transformers_on_the_tiny_model(tiny_model_dir):
    assert _compare_fp32(tiny_model_dir, SAMPLE_TEXTS) < 1e-5


def test_unsupported_or_incomplete_weights_are_refused(tiny_model_dir):
    config = bert.read_encoder_config(tiny_model_dir)
    state = load_file(str(tiny_model_dir / "model.safetensors"))
    with pytest.raises(ValueError, match="BERT encoders only"):
        bert.BertEncoder.from_state({**config, "hidden_act": "relu"}, state, torch.float32)
    state.pop("encoder.encoder.layer.1.output.dense.weight")
    with pytest.raises(ValueError, match="layer.1.output.dense.weight"):
        bert.BertEncoder.from_state(config, state, torch.float32)


def test_bf16_backend_uses_it_and_falls_back_to_transformers(tiny_model_dir, tmp_path):
    bf16 = ComplaintClassifier.from_pretrained(tiny_model_dir, backend="torch-bf16")
    assert isinstance(bf16.backend, TorchBf16Backend) and bf16.backend.implementation == "cur_nlp.bert"
    assert bf16.model is None
    assert next(bf16.backend.encoder.parameters()).dtype == torch.bfloat16

    other = tmp_path / "model"
    shutil.copytree(tiny_model_dir, other)
    config_path = other / "encoder" / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "hidden_act": "gelu_new"}))
    fallback = ComplaintClassifier.from_pretrained(other, backend="torch-bf16")
    assert fallback.backend.implementation == "transformers"
    assert next(fallback.backend.encoder.parameters()).dtype == torch.bfloat16
    assert fallback.embed(SAMPLE_TEXTS)[0].shape == (len(SAMPLE_TEXTS), 32)


def test_bf16_classifier_starts_without_transformers(tiny_model_dir):
    """The point of cur_nlp.bert: a fresh interpreter classifies with torch-bf16 and never imports transformers."""
    script = (
        "import sys, json\n"
        "from cur_nlp.classifier import ComplaintClassifier\n"
        f"clf = ComplaintClassifier.from_pretrained({str(tiny_model_dir)!r}, backend='torch-bf16')\n"
        f"labels = [p.topic.label for p in clf.predict({SAMPLE_TEXTS[:3]!r})]\n"
        "print(json.dumps({'transformers': 'transformers' in sys.modules, 'labels': labels}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    in_process = ComplaintClassifier.from_pretrained(tiny_model_dir, backend="torch-bf16")
    assert seen == {"transformers": False, "labels": [p.topic.label for p in in_process.predict(SAMPLE_TEXTS[:3])]}


@pytest.mark.skipif(not (DEFAULT_MODEL / "model.safetensors").exists(), reason="no shipped model in models/default")
def test_fp32_hidden_states_equal_transformers_on_the_shipped_model():
    texts = SAMPLE_TEXTS + ["Третий день нет горячей воды в доме 12 по проспекту Победы, управляющая компания молчит"]
    assert _compare_fp32(DEFAULT_MODEL, texts) < 1e-4


@pytest.mark.skipif(not (DEFAULT_MODEL / "model.safetensors").exists(), reason="no shipped model in models/default")
def test_bf16_labels_match_the_fp32_reference_on_real_posts():
    reference = ComplaintClassifier.from_pretrained(DEFAULT_MODEL, backend="torch")
    bf16 = ComplaintClassifier.from_pretrained(DEFAULT_MODEL, backend="torch-bf16")
    assert min_cosine(reference, bf16) > 0.999
    assert [p.topic.label for p in reference.predict(SAMPLE_TEXTS)] == [p.topic.label for p in bf16.predict(SAMPLE_TEXTS)]
