"""Distillation into a shallower student on a tiny random teacher (fast), plus the layer choice."""

import json

import pytest
import torch
import yaml

from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.encoder import MultiHeadModel
from cur_nlp.model_dir import ModelConfig
from cur_nlp_training.config import TrainConfig
from cur_nlp_training.distill import DistillConfig, distill, kept_layers, make_student
from cur_nlp_training.train import train

from test_train import BODIES, _config


def test_kept_layers_are_evenly_spaced_and_keep_the_last():
    assert kept_layers(12, 6) == [0, 2, 4, 7, 9, 11]
    assert kept_layers(12, 4) == [0, 4, 7, 11]
    assert kept_layers(12, 1) == [11]
    assert kept_layers(12, 12) == list(range(12))
    with pytest.raises(ValueError, match="between 1 and the teacher's 12"):
        kept_layers(12, 13)


def test_student_copies_the_kept_teacher_layers(tiny_model_dir):
    teacher = MultiHeadModel.load(tiny_model_dir, ModelConfig.load(tiny_model_dir))
    student, keep = make_student(teacher, 1)
    assert keep == [1] and len(student.encoder.encoder.layer) == 1
    assert student.encoder.config.num_hidden_layers == 1
    assert len(teacher.encoder.encoder.layer) == 2  # the teacher is untouched
    for (name, p), q in zip(student.encoder.encoder.layer[0].named_parameters(),
                            teacher.encoder.encoder.layer[1].parameters()):
        assert torch.equal(p, q), name
    ids = torch.tensor([[2, 10, 11, 3]])
    mask = torch.ones_like(ids)
    assert student.embed(ids, mask).shape == teacher.embed(ids, mask).shape


def test_distil_a_trained_teacher_end_to_end(tmp_path, tiny_encoder_dir):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, tiny_encoder_dir, "full"), allow_unicode=True))
    teacher_dir = train(TrainConfig.from_yaml(path))
    out = distill(DistillConfig(teacher=str(teacher_dir), output_dir=str(tmp_path / "student"), layers=1, epochs=2,
                                batch_size=8))
    student = ComplaintClassifier.from_pretrained(out)
    assert student.model.encoder.config.num_hidden_layers == 1
    assert student.head_names == ["routing", "urgent"]
    assert student("Яма на дороге").heads["routing"].label in BODIES
    record = student.config.extra.distillation
    assert record["teacher_layers"] == [1] and record["train_texts"] == 24 and len(record["history"]) == 2
    assert student.config.name == "routing-1l"
    assert TrainConfig.from_yaml(out / "training_config.yaml").name == "routing-1l"
    assert json.loads((out / "training_history.json").read_text())["distilled_from"] == str(teacher_dir)
