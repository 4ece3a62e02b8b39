"""Training paths on a tiny random encoder: fast and full modes, new heads from a user's file, round trip."""

import json

import pytest
import yaml

from cur_nlp.classifier import ComplaintClassifier
from cur_nlp_training.config import TrainConfig
from cur_nlp.batching import bucketed_batches
from cur_nlp_training.train import choose_max_length, class_weights, train

from conftest import SAMPLE_TEXTS

BODIES = ["Администрация района", "Управляющая компания", "Дорожный комитет"]


def _user_files(tmp_path):
    import pandas as pd

    rows = [{"text": f"{t} №{i}", "body": BODIES[i % 3], "urgent": i % 2 == 0} for i, t in enumerate(SAMPLE_TEXTS * 4)]
    paths = {}
    for split, part in (("train", rows[:24]), ("dev", rows[24:])):
        paths[split] = str(tmp_path / f"{split}.csv")
        pd.DataFrame(part).to_csv(paths[split], index=False)
    return paths


def _config(tmp_path, encoder, mode):
    return {
        "name": "routing", "output_dir": str(tmp_path / f"model_{mode}"), "base_model": str(encoder), "mode": mode,
        "heads": [{"name": "routing", "column": "body"}, {"name": "urgent", "type": "binary"}],
        "data": {"files": _user_files(tmp_path)}, "epochs": 2, "batch_size": 8, "fast_epochs": 5,
    }


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_new_heads_train_save_and_load(tmp_path, tiny_encoder_dir, mode):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, tiny_encoder_dir, mode), allow_unicode=True))
    out = train(TrainConfig.from_yaml(path))
    clf = ComplaintClassifier.from_pretrained(out)
    assert clf.head_names == ["routing", "urgent"]
    assert clf.config.head("routing").labels == sorted(BODIES)
    prediction = clf("Яма на дороге").to_dict()
    assert prediction["routing"]["label"] in BODIES and isinstance(prediction["urgent"]["label"], bool)
    assert TrainConfig.from_yaml(out / "training_config.yaml").mode == mode
    history = json.loads((out / "training_history.json").read_text())
    assert history["history"]


def test_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("name: x\noutput_dir: y\nheads: [{name: topic}]\nlearning_rate: 1\n")
    with pytest.raises(ValueError, match="unknown config keys \\['learning_rate'\\]"):
        TrainConfig.from_yaml(path)


def test_config_validates_values():
    with pytest.raises(ValueError, match="mode"):
        TrainConfig(name="x", output_dir="y", heads=[{"name": "t"}], mode="turbo")
    with pytest.raises(ValueError, match="at least one head"):
        TrainConfig(name="x", output_dir="y", heads=[])


def test_user_file_without_text_column_is_explained(tmp_path, tiny_encoder_dir):
    cfg = _config(tmp_path, tiny_encoder_dir, "fast")
    bad = tmp_path / "bad.csv"
    bad.write_text("body,urgent\nx,true\n")
    cfg["data"]["files"]["train"] = str(bad)
    with pytest.raises(ValueError, match="expected a 'text' column"):
        train(TrainConfig(**cfg))


def test_bucketing_groups_similar_lengths():
    import random

    lengths = [random.Random(i).randint(5, 200) for i in range(640)]
    batches = bucketed_batches(lengths, 32, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(640))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 20


def test_max_length_from_data_and_class_weights():
    import numpy as np

    assert choose_max_length([10] * 98 + [500, 600], 128, 98) == 20  # p98 interpolates into the long tail
    assert choose_max_length([5] * 100, 128, 98) == 16  # floor
    assert choose_max_length([300] * 10, 128, 98) == 128
    weights = class_weights(np.array([0, 0, 0, 1, -1]), 3, "inverse")
    assert weights[1] > weights[0] and weights[2] == 0


def test_min_recall_raises_offset_but_respects_precision_floor():
    import numpy as np

    from cur_nlp_training.calibrate import tune_class_bias

    rng = np.random.default_rng(0)
    gold = np.array([0] * 40 + [1] * 160)
    probs = np.where(np.arange(2)[None, :] == gold[:, None], 0.6, 0.4) + rng.normal(0, 0.15, (200, 2))
    probs = np.clip(probs, 0.01, None)
    probs /= probs.sum(1, keepdims=True)
    bias = tune_class_bias(probs, gold, {0: 0.95}, min_support=1000)
    pred = (np.log(probs) + bias).argmax(1)
    assert bias[0] > 0  # raised
    assert (gold[pred == 0] == 0).mean() >= 0.5  # but not past the precision floor


def test_read_labels_replace_weak_ones_in_train_and_dev_only(tmp_path):
    from cur_nlp_training.heads_data import apply_read_labels

    rows = {s: [{"id": f"{s}:1", "urgency": "normal"}, {"id": f"{s}:2", "urgency": "normal"}] for s in ("train", "dev", "test")}
    path = tmp_path / "read.csv"
    path.write_text("id,urgency,note\ntrain:1,critical,x\ndev:2,high,y\ntest:1,low,z\n")
    assert apply_read_labels(rows, "urgency", path) == 2
    assert [r["urgency"] for r in rows["train"]] == ["critical", "normal"]
    assert [r["urgency"] for r in rows["dev"]] == ["normal", "high"]
    assert [r["urgency"] for r in rows["test"]] == ["normal", "normal"]  # test labels stay for evaluation
    assert rows["train"][0]["read_urgency"] is True


def test_row_weights_weight_the_loss_within_a_head():
    import torch

    from cur_nlp_training.train import masked_loss

    logits = {"h": torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])}
    targets = {"h": torch.tensor([0, 0, -1])}
    ones = {"h": torch.ones(2)}
    plain = masked_loss(logits, targets, ones, {"h": 1.0})
    same = masked_loss(logits, targets, ones, {"h": 1.0}, torch.tensor([1.0, 1.0, 5.0]))
    assert torch.isclose(plain, same)  # equal weights (the unlabelled row does not count)
    heavy_wrong = masked_loss(logits, targets, ones, {"h": 1.0}, torch.tensor([1.0, 3.0, 1.0]))
    per_row = torch.nn.functional.cross_entropy(logits["h"][:2], targets["h"][:2], reduction="none")
    assert torch.isclose(heavy_wrong, (per_row[0] + 3 * per_row[1]) / 4)


def test_full_training_resumes_from_its_epoch_checkpoint(tmp_path, tiny_encoder_dir, caplog, monkeypatch):
    import logging

    import cur_nlp_training.train as training
    from cur_nlp_training.train import CHECKPOINT_FILE

    cfg = _config(tmp_path, tiny_encoder_dir, "full")
    real_dev_score, calls = training.dev_score, []

    def killed_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed during the second epoch")
        return real_dev_score(*args, **kwargs)

    monkeypatch.setattr(training, "dev_score", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**cfg))
    checkpoint = tmp_path / "model_full" / CHECKPOINT_FILE
    assert checkpoint.exists()  # written after epoch 1
    monkeypatch.setattr(training, "dev_score", real_dev_score)
    with caplog.at_level(logging.INFO, logger="cur_nlp.train"):
        out = train(TrainConfig(**cfg))
    assert "after epoch 1" in caplog.text
    assert [h["epoch"] for h in json.loads((out / "training_history.json").read_text())["history"]] == [1, 2]
    assert not checkpoint.exists()  # removed once the model directory is written


def test_recall_threshold_is_visible_in_the_result():
    import numpy as np

    from cur_nlp.decoding import head_predictions
    from cur_nlp.model_dir import HeadSpec
    from cur_nlp_training.calibrate import tune_recall_threshold

    head = HeadSpec("urgency", "multiclass", ["critical", "high", "normal", "low"], recall_thresholds={"critical": 0.2})
    probs = np.array([[0.25, 0.6, 0.1, 0.05], [0.1, 0.2, 0.6, 0.1], [0.7, 0.1, 0.1, 0.1]])
    first, second, third = head_predictions(head, probs)
    assert (first.label, round(first.score, 2), first.decided_by, first.threshold) == ("critical", 0.25,
                                                                                          "critical_recall_threshold", 0.2)
    assert first.to_dict()["decided_by"] == "critical_recall_threshold" and first.to_dict()["threshold"] == 0.2
    assert (second.label, second.decided_by) == ("normal", None) and "decided_by" not in second.to_dict()
    assert (third.label, third.decided_by) == ("critical", None)  # the most probable label needs no rule
    gold = np.array([0, 0, 1, 2])
    p = np.array([[0.3, 0.6, 0.1, 0.0], [0.9, 0.1, 0.0, 0.0], [0.1, 0.8, 0.1, 0.0], [0.05, 0.05, 0.9, 0.0]])
    threshold = tune_recall_threshold(p, gold, 0, 1.0, p.argmax(1))
    assert threshold == 0.3  # the highest threshold that catches both critical posts
    assert tune_recall_threshold(p, gold, 2, 0.9, p.argmax(1)) is None  # argmax already reaches the target


def test_recall_threshold_holds_in_every_source():
    """An easy source (written posts, critical at p 0.9) cannot carry a hard one (real posts, critical at p 0.3):
    the pooled target is reached at 0.9, the per-source one only at 0.3."""
    import numpy as np

    from cur_nlp_training.calibrate import MIN_GROUP_SUPPORT, tune_recall_threshold

    n = MIN_GROUP_SUPPORT
    easy = np.tile([0.9, 0.05, 0.05, 0.0], (4 * n, 1))
    hard = np.tile([0.3, 0.6, 0.1, 0.0], (n, 1))
    others = np.tile([0.02, 0.08, 0.9, 0.0], (n, 1))
    p = np.vstack([easy, hard, others])
    gold = np.array([0] * (5 * n) + [2] * n)
    groups = np.array(["social"] * (4 * n) + ["spb"] * n + ["spb"] * n)
    assert tune_recall_threshold(p, gold, 0, 0.8, p.argmax(1), min_precision=0.3) is None  # pooled: 0.8 reached
    assert tune_recall_threshold(p, gold, 0, 0.8, p.argmax(1), 0.3, groups) == pytest.approx(0.3)


# ---------------------------------------------------------------------------------------------- clear errors (issue 22)


@pytest.mark.parametrize("content, expected", [("", "found nothing"), ("# only a comment\n", "found nothing"),
                                               ("- a\n- b\n", "found a list"),
                                               ("name: x\n", "missing config keys \\['output_dir', 'heads'\\]")])
def test_empty_or_incomplete_config_is_a_clear_error(tmp_path, content, expected):
    path = tmp_path / "cfg.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=expected):
        TrainConfig.from_yaml(path)


def test_rows_with_labels_outside_the_head_are_an_error_that_lists_them(tmp_path, tiny_encoder_dir):
    """Defect 6: such rows were dropped silently."""
    import pandas as pd

    cfg = _config(tmp_path, tiny_encoder_dir, "fast")
    cfg["heads"][0]["labels"] = BODIES[:2]  # the third body is in the data, not in the head
    pd.DataFrame([{"text": "x", "body": "Мэрия", "urgent": True}] * 2).to_csv(cfg["data"]["files"]["dev"], index=False)
    with pytest.raises(ValueError) as error:
        train(TrainConfig(**cfg))
    message = str(error.value)
    assert "head 'routing' (column 'body')" in message and "'Дорожный комитет' (8 rows)" in message
    assert "'Мэрия' (2 rows)" in message and "urgent" not in message


def test_train_cli_errors_are_one_line(tmp_path):
    from typer.testing import CliRunner

    from cur_nlp.cli import app, register_plugins

    register_plugins(app)
    path = tmp_path / "empty.yaml"
    path.write_text("")
    result = CliRunner().invoke(app, ["train", "--config", str(path)])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in result.output


def test_dev_labels_never_seen_in_train_are_logged_when_labels_come_from_train(tmp_path, tiny_encoder_dir, caplog):
    import logging

    import pandas as pd

    from cur_nlp_training.heads_data import load_training_data

    cfg = TrainConfig(**_config(tmp_path, tiny_encoder_dir, "fast"))  # routing labels: the values seen in train
    pd.DataFrame([{"text": "x", "body": "Мэрия", "urgent": True}] * 2).to_csv(cfg.data.files["dev"], index=False)
    with caplog.at_level(logging.WARNING, logger="cur_nlp.train"):
        data = load_training_data(cfg.data, cfg.heads)
    assert data.labels["routing"] == sorted(BODIES)
    assert "dev rows with labels never seen in train are left out: 'Мэрия' (2 rows)" in caplog.text
