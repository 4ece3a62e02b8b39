import json

import numpy as np
import pytest

from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.model_dir import FORMAT_VERSION, HeadSpec, ModelConfig

from conftest import SAMPLE_TEXTS


def test_round_trip_gives_identical_scores(tiny_model_dir, tmp_path):
    first = ComplaintClassifier.from_pretrained(tiny_model_dir)
    first.model.save(tmp_path / "copy")
    first.tokenizer.save_pretrained(str(tmp_path / "copy"))
    second = ComplaintClassifier.from_pretrained(tmp_path / "copy")
    a, b = first.predict_scores(SAMPLE_TEXTS), second.predict_scores(SAMPLE_TEXTS)
    for head in ("topic", "urgency", "fake"):
        np.testing.assert_allclose(a[head], b[head], atol=1e-6)


def test_weights_are_fp16(tiny_model_dir):
    from safetensors.torch import load_file

    assert {str(t.dtype) for t in load_file(str(tiny_model_dir / "model.safetensors")).values()} == {"torch.float16"}


def test_config_records_labels_and_format(tiny_model_dir):
    data = json.loads((tiny_model_dir / "config.json").read_text())
    assert data["format"] == "cur_nlp.multihead" and data["format_version"] == FORMAT_VERSION
    assert [h["name"] for h in data["heads"]] == ["topic", "urgency", "fake"]


def test_wrong_format_version_is_explained(tiny_model_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    data = json.loads((broken / "config.json").read_text())
    data["format_version"] = 99
    (broken / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="expected format_version 1, found 99"):
        ComplaintClassifier.from_pretrained(broken)


def test_missing_directory_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ComplaintClassifier.from_pretrained(tmp_path / "nope")


def test_head_spec_validation():
    with pytest.raises(ValueError, match="binary head"):
        HeadSpec("fake", "binary", ["no", "yes"])
    with pytest.raises(ValueError, match="expected type"):
        HeadSpec("x", "regression", ["a", "b"])
    with pytest.raises(ValueError, match="class_bias"):
        HeadSpec("x", "multiclass", ["a", "b"], class_bias=[0.0])
    with pytest.raises(KeyError, match="heads"):
        ModelConfig("m", "1", [HeadSpec("x", "multiclass", ["a", "b"])], "base").head("y")


def test_saved_weights_are_readable_by_other_users(tiny_model_dir, tmp_path):
    """safetensors writes 0600; a model saved by cur_nlp gets what a plain open() gives (0644 under umask 022)."""
    import os
    import stat

    from cur_nlp.classifier import ComplaintClassifier

    mask = os.umask(0o022)
    try:
        ComplaintClassifier.from_pretrained(tiny_model_dir, backend="torch").model.save(tmp_path)
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(tmp_path / "model.safetensors").st_mode) == 0o644
