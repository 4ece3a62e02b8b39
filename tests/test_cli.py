import json

from typer.testing import CliRunner

from cur_nlp.cli import app, register_plugins

runner = CliRunner()
register_plugins(app)  # what the `cur-nlp` script does before it runs: the training and service commands


def _run(args, input=None):
    return runner.invoke(app, args, input=input)


def test_help_lists_commands():
    result = _run(["--help"])
    assert result.exit_code == 0
    for command in ("predict", "train", "evaluate", "baseline", "data", "labels", "info", "serve", "export-onnx"):
        assert command in result.output


def test_every_command_has_help():
    for command in (["predict"], ["train"], ["evaluate"], ["baseline"], ["data", "prepare"], ["labels"], ["info"],
                    ["serve"], ["export-onnx"], ["heatmap"]):
        result = _run([*command, "--help"])
        assert result.exit_code == 0, command


def test_predict_jsonl_keeps_ids_order_and_reports_bad_lines(tiny_model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join([
            json.dumps({"id": "a", "text": "Во дворе яма"}, ensure_ascii=False),
            "{not json",
            json.dumps({"id": "b"}),
            json.dumps({"id": "c", "text": 42}),
            json.dumps({"text": "Нет воды", "extra": 1}, ensure_ascii=False),
            json.dumps(["list"]),
        ]) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = _run(["predict", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--no-locate"])
    assert result.exit_code == 3, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in records] == ["a", None]
    assert records[1]["extra"] == 1 and records[1]["text"] == "Нет воды"
    assert {"topic", "urgency", "fake", "locations"} <= set(records[0])
    for line in (2, 3, 4, 6):
        assert f"in.jsonl:{line}: skipped" in result.output
    assert "skipped 4 bad lines" in result.output


def test_predict_stdin_to_stdout_exit_zero(tiny_model_dir):
    result = _run(["predict", "-", "--model", str(tiny_model_dir), "--no-locate"],
                  input=json.dumps({"id": 1, "text": "Сломана скамейка"}, ensure_ascii=False) + "\n")
    assert result.exit_code == 0
    record = json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][0])
    assert record["id"] == 1 and record["topic"]["label"]


def test_predict_backend_option(tiny_model_dir):
    line = json.dumps({"id": 1, "text": "Сломана скамейка"}, ensure_ascii=False) + "\n"
    result = _run(["predict", "-", "--model", str(tiny_model_dir), "--no-locate", "--backend", "torch"], input=line)
    assert result.exit_code == 0
    assert json.loads([x for x in result.stdout.splitlines() if x.startswith("{")][0])["topic"]["label"]
    result = _run(["predict", "-", "--model", str(tiny_model_dir), "--no-locate", "--backend", "tpu"], input=line)
    assert result.exit_code != 0 and "--backend" in result.output
    # no ONNX file was exported for this model: the error says what to run
    result = _run(["predict", "-", "--model", str(tiny_model_dir), "--no-locate", "--backend", "onnx-int8"], input=line)
    assert result.exit_code == 2 and "export-onnx" in result.output


def test_predict_csv_in_and_out(tiny_model_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,text\n1,Открыт люк\n2,\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = _run(["predict", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--no-locate"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert {"id", "text", "topic_label", "topic_score", "urgency_label", "fake_label", "empty"} <= set(header)
    assert len(lines) == 3


def test_csv_without_text_column_is_reported(tiny_model_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,body\n1,x\n", encoding="utf-8")
    result = _run(["predict", str(src), "--model", str(tiny_model_dir), "--no-locate"])
    assert result.exit_code == 3 and "'text' column" in result.output


def test_labels_command():
    data = json.loads(_run(["labels"]).stdout)
    assert data["urgency"][0]["id"] == "critical" and len(data["topic"]) >= 10
