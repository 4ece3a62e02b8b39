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


# ---------------------------------------------------------------------------------------------- files (issue 22)


def _predict(tiny_model_dir, src, out, *extra):
    return _run(["predict", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--no-locate", *extra])


def test_csv_output_has_the_union_of_all_columns_in_first_seen_order(tiny_model_dir, tmp_path):
    import csv

    src = tmp_path / "in.jsonl"
    rows = [{"text": "Открыт люк"}, {"id": "b", "text": "Яма", "region": "Курск"}, {"text": "Лифт", "id": "c"}]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.csv"
    result = _predict(tiny_model_dir, src, out)
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    header = list(records[0])
    assert header[:1] == ["text"] and header.index("id") > header.index("topic_label") > 0
    assert header.index("region") == header.index("id") + 1
    assert [r["id"] for r in records] == ["", "b", "c"] and records[1]["region"] == "Курск"


def test_readers_tolerate_a_byte_order_mark(tiny_model_dir, tmp_path):
    csv_in = tmp_path / "excel.csv"
    csv_in.write_bytes("\ufeffid,text\n7,Открыт люк\n".encode("utf-8"))
    jsonl_in = tmp_path / "bom.jsonl"
    jsonl_in.write_bytes("\ufeff".encode() + json.dumps({"id": 8, "text": "Яма"}, ensure_ascii=False).encode() + b"\n")
    for src, expected in ((csv_in, "7"), (jsonl_in, 8)):
        out = tmp_path / f"{src.stem}.jsonl"
        result = _predict(tiny_model_dir, src, out)
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text(encoding="utf-8"))["id"] == expected


def test_malformed_csv_records_are_reported_by_line_and_skipped(tiny_model_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('id,text\n1,Открыт люк\n2,"нет закрывающей кавычки\n3,Яма на дороге\n4,Лифт,лишнее\n'
                   '5,"многострочный\nтекст"\n6\n7,"конец файла\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = _predict(tiny_model_dir, src, out)
    assert result.exit_code == 3, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["1", "3", "5"]
    assert records[2]["text"] == "многострочный\nтекст" and all(None not in r and "null" not in r for r in records)
    for line, reason in ((3, "malformed CSV"), (5, "3 fields where the header has 2"), (8, "1 fields"),
                         (9, "malformed CSV")):
        assert f"in.csv:{line}: skipped: {reason}" in result.output
    assert "classified 3 records, skipped 4 bad lines" in result.output


def test_bytes_that_are_not_utf8_are_replaced_and_reported(tiny_model_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id": 1, "text": "\xd0\xbb\xd1\x8e\xd0\xba \xff"}\n{"id": 2, "text": "ok"}\n')
    out = tmp_path / "out.jsonl"
    result = _predict(tiny_model_dir, src, out)
    assert result.exit_code == 0, result.output
    assert "in.jsonl:1: repaired: not UTF-8 at byte 27" in result.output and "repaired 1 lines" in result.output
    assert [json.loads(x)["text"] for x in out.read_text(encoding="utf-8").splitlines()] == ["люк \ufffd", "ok"]


def test_a_lone_surrogate_loses_no_record(tiny_model_dir, tmp_path):
    """Issue 22, defect 3: one ``"\\ud83d"`` used to fail the chunk (up to 512 good records) with exit 1."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "\\ud83d"}\n{"id": 2, "text": "Яма \\udfff на дороге"}\n{"id": 3, "text": "Лифт"}\n',
                   encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = _predict(tiny_model_dir, src, out)
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [1, 2, 3] and records[1]["text"] == "Яма \ufffd на дороге"
    assert all(r["topic"] for r in records)


def test_a_failed_write_leaves_the_target_as_it_was(tiny_model_dir, tmp_path):
    """A write that fails half way (here a file-size limit, as a full disk would) never leaves half a file."""
    import subprocess
    import sys

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": f"Яма номер {i}"}, ensure_ascii=False) + "\n"
                           for i in range(300)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("previous run\n", encoding="utf-8")
    script = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); "
              "from cur_nlp.cli import main; sys.argv = ['cur-nlp'] + sys.argv[1:]; main()")
    done = subprocess.run([sys.executable, "-c", script, "predict", str(src), "-o", str(out), "--model",
                           str(tiny_model_dir), "--no-locate"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "was not written" in done.stderr and "File too large" in done.stderr
    assert out.read_text(encoding="utf-8") == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]  # no temporary file left
    assert _predict(tiny_model_dir, src, out).exit_code == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 300


def test_heatmap_reports_bad_lines_and_skips_them(tmp_path):
    src = tmp_path / "pred.jsonl"
    good = {"text": "x", "topic": {"label": "roads"}, "urgency": {"label": "high"}, "locations": []}
    lines = [json.dumps(good), "{broken", json.dumps(["not", "an", "object"]), json.dumps(good),
             json.dumps({**good, "locations": "Сочи"}), json.dumps({**good, "locations": [{"lat": "x", "lon": 1}]})]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _run(["heatmap", str(src), "-o", str(tmp_path / "map"), "--no-html", "--no-png"])
    assert result.exit_code == 3, result.output
    for line in (2, 3, 5, 6):
        assert f"pred.jsonl:{line}: skipped" in result.output
    assert "posts=2" in result.output


def test_evaluate_names_the_splits_for_an_unknown_one():
    result = _run(["evaluate", "--split", "nosuchsplit"])
    message = " ".join(result.output.replace("│", " ").split())  # typer draws the error in a box
    assert result.exit_code == 2 and "'nosuchsplit' is not one of 'train', 'dev', 'test'" in message


def test_evaluate_refuses_a_model_whose_heads_are_not_in_the_data(tmp_path, monkeypatch):
    from conftest import build_tiny_model

    import cur_nlp_training.evaluate as evaluate
    from cur_nlp.model_dir import HeadSpec

    model = build_tiny_model(tmp_path / "routing", heads=[HeadSpec("routing", "multiclass", ["a", "b"])])
    sets = [evaluate.EvalSet("spb", ["1", "2"], ["яма", "люк"], {"topic": ["roads", "improvement"]})]
    monkeypatch.setattr(evaluate, "build_eval_sets", lambda data_dir, split: sets)
    result = _run(["evaluate", "--model", str(model), "--baseline", str(tmp_path / "none"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1, result.output
    assert "nothing to evaluate" in result.output and "routing" in result.output and "spb: topic" in result.output
    assert not (tmp_path / "r").exists()


def test_version_and_logging_stay_under_the_cur_nlp_logger():
    import logging

    from cur_nlp import __version__
    from cur_nlp.cli import setup_logging

    result = _run(["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"cur_nlp {__version__}"
    root_handlers = list(logging.getLogger().handlers)
    setup_logging()
    setup_logging()  # idempotent: one handler
    ours = [h for h in logging.getLogger("cur_nlp").handlers if getattr(h, "_cur_nlp", False)]
    assert len(ours) == 1 and logging.getLogger().handlers == root_handlers
    assert logging.getLogger("transformers").getEffectiveLevel() >= logging.ERROR
