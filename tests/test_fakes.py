"""The fakes registry: claim files, the database store (SQLite always; PostgreSQL when a server is given),
matching with stance on the tiny model, the CLI, and the service's /v1/fakes endpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cur_nlp.cli import app
from cur_nlp.database import DatabaseError, open_database, schema_info
from cur_nlp.fakes.claims import Claim, read_claims, write_claims
from cur_nlp.fakes.store import ClaimStore, DuplicateClaimError


WATER = Claim("w-1", "В городе на месяц отключат воду во всех домах", "Водоканал: массовых отключений нет.",
              "https://example.ru/1", "Курская область", ("water",))
PENSION = Claim("p-1", "Пенсии перестанут платить тем, кто не придёт в МФЦ", "Социальный фонд: это неправда.")


# ------------------------------------------------------------------------------------------- claim files


@pytest.mark.parametrize("content,message", [
    ('{"id": "a", "claim": "x"}\n{"claim": "no id"}\n', r"r.jsonl:2: missing 'id'"),
    ('{"id": "a", "claim": "x"}\n{"id": "a", "claim": "y"}\n', r"r.jsonl:2: duplicate id 'a' \(first on line 1\)"),
    ('{"id": "a", "claim": "x"}\n{"id": "b", "claim": "y"\n', r"r.jsonl:2: not valid JSON"),
    ('{"id": "a", "claim": "x", "kind": 1}\n', r"r.jsonl:1: unknown fields \['kind'\]"),
    ("\n\n", r"r.jsonl: the registry file has no claims"),
])
def test_claim_file_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "r.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_claims(path)


def test_missing_claim_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="registry file .*nope.jsonl not found"):
        read_claims(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_claim_files_round_trip(tmp_path, suffix):
    path = tmp_path / f"claims{suffix}"
    assert write_claims([WATER, PENSION], path) == 2
    back = read_claims(path)
    assert [(c.id, c.claim, c.refutation, c.link, c.region, c.tags) for c in back] == \
        [(c.id, c.claim, c.refutation, c.link, c.region, c.tags) for c in (WATER, PENSION)]


def test_csv_with_bom_and_broken_row(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("\ufeffid,claim,refutation\nx-1,Слух,Опровержение\nx-2,Слух два,Опровержение,лишнее\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match=r"claims.csv:3: more fields than the header"):
        read_claims(path)


# ------------------------------------------------------------------------------------------- the store


class CountingEmbed:
    """A stand-in encoder that counts the texts it embeds."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return np.ones((len(texts), 4), dtype=np.float32) * np.arange(1, len(texts) + 1)[:, None]


def test_store_add_list_remove_and_revision(database):
    embed = CountingEmbed()
    store = ClaimStore.open(database, embed=embed, vector_model="m@1")
    start = store.revision()
    store.add([WATER, PENSION])
    assert store.revision() == start + 1
    assert [c.id for c in store.claims()] == ["p-1", "w-1"]
    assert embed.texts == [WATER.claim, PENSION.claim]  # vectors computed once, when written
    claims, vectors, _ = store.claims_with_vectors()
    assert all(v is not None and v.shape == (4,) for v in vectors)
    with pytest.raises(DuplicateClaimError, match=r"already holds claim ids \['w-1'\]"):
        store.add([WATER])
    assert store.remove(["w-1", "nope"]) == ["w-1"]
    assert [c.id for c in store.claims()] == ["p-1"]
    assert [c.active for c in store.claims(include_inactive=True)] == [True, False]
    other_model = ClaimStore.open(database, vector_model="m@2")
    assert other_model.claims_with_vectors()[1] == [None]  # another model's vectors are not reused


def test_store_refuses_repeated_ids_in_one_write(database):
    store = ClaimStore.open(database)
    with pytest.raises(DuplicateClaimError, match="duplicate claim ids in the input"):
        store.add([WATER, WATER])
    assert store.claims() == []


def test_unreachable_database_names_the_host_not_the_password():
    with pytest.raises(DatabaseError) as error:
        open_database("postgresql+psycopg://centre:s3cret-pw@127.0.0.1:1/registry")
    assert "postgresql at host 127.0.0.1:1" in str(error.value) and "s3cret-pw" not in str(error.value)


def test_other_schema_version_is_refused(tmp_path):
    path = tmp_path / "old.db"
    engine = open_database(path)
    with engine.begin() as connection:
        connection.execute(schema_info.update().values(version=99))
    with pytest.raises(DatabaseError, match="schema version \\[99\\]"):
        open_database(path)


# ------------------------------------------------------------------------------------------- matching


def test_claim_added_to_the_database_is_matched_at_the_next_call(tiny_model_dir, tmp_path):
    """Two classifiers (two replicas) share one database; a claim written by one is matched by the other."""
    from cur_nlp.classifier import ComplaintClassifier

    database = str(tmp_path / "shared.db")
    first = ComplaintClassifier.from_pretrained(tiny_model_dir, registry=database)
    second = ComplaintClassifier.from_pretrained(tiny_model_dir, registry=database)
    text = "Во дворе открыт люк"
    assert second(text).fake.source == "model"
    first.registry.store.add([Claim("h-1", text, "Люк закрыт коммунальщиками.")])
    second.registry.settings.retrieval_threshold = 0.99  # the tiny model has no stance model: similarity decides
    fake = second(text).fake
    assert fake.source == "registry" and fake.label is True and fake.stance == "spreads"
    assert fake.match["id"] == "h-1" and fake.match["refutation"] == "Люк закрыт коммунальщиками."
    assert second("Не работает лифт").fake.source == "model"


def test_fake_score_is_always_p_fake(tiny_classifier):
    scores = tiny_classifier.predict_scores(["Во дворе открыт люк"])["fake"]
    fake = tiny_classifier("Во дворе открыт люк").fake
    assert fake.source == "model" and fake.score == pytest.approx(float(scores[0, 1]), abs=1e-6)


# ------------------------------------------------------------------------------------------- CLI


def test_cli_import_list_remove_export(tiny_model_dir, tmp_path):
    runner = CliRunner()
    source, database = tmp_path / "claims.jsonl", str(tmp_path / "cli.db")
    write_claims([WATER, PENSION], source)
    common = ["--registry", database]
    result = runner.invoke(app, ["fakes", "import", str(source), *common, "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert "imported 2 claims" in result.output
    again = runner.invoke(app, ["fakes", "import", str(source), *common, "--model", str(tiny_model_dir)])
    assert again.exit_code == 2 and "already holds claim ids" in again.output
    listed = runner.invoke(app, ["fakes", "list", *common, "--json"])
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == ["p-1", "w-1"]
    assert runner.invoke(app, ["fakes", "remove", "w-1", *common]).exit_code == 0
    out = tmp_path / "out.csv"
    assert runner.invoke(app, ["fakes", "export", str(out), *common, "--all"]).exit_code == 0
    assert [(c.id, c.active) for c in read_claims(out)] == [("p-1", True), ("w-1", False)]


def test_cli_predict_with_a_broken_registry_names_the_line(tmp_path):
    posts, registry = tmp_path / "posts.jsonl", tmp_path / "bad.jsonl"
    posts.write_text('{"text": "Во дворе открыт люк"}\n', encoding="utf-8")
    registry.write_text('{"id": "a", "claim": "x"}\nnot json\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["predict", str(posts), "--no-locate", "--registry", str(registry)])
    assert result.exit_code == 2 and "bad.jsonl:2: not valid JSON" in result.output


# ------------------------------------------------------------------------------------------- the service


def test_service_registers_matches_and_removes_claims(tiny_model_dir, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from cur_nlp_serve.app import create_app
    from cur_nlp_serve.settings import Settings

    settings = Settings(model=tiny_model_dir, locate=False, warmup=False, batch_window_ms=1, api_keys="k1",
                        registry=str(tmp_path / "service.db"))
    key = {"X-API-Key": "k1"}
    text = "Во дворе открыт люк"
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/fakes").status_code == 401
        assert client.get("/v1/fakes", headers=key).json() == []
        body = {"id": "h-1", "claim": text, "refutation": "Люк закрыт.", "tags": ["safety"]}
        assert client.post("/v1/fakes", json=body, headers=key).status_code == 201
        assert client.post("/v1/fakes", json=body, headers=key).status_code == 409
        client.app.state.classifier.registry.settings.retrieval_threshold = 0.99
        fake = client.post("/v1/classify", json={"text": text}, headers=key).json()["results"][0]["fake"]
        assert fake["source"] == "registry" and fake["match"]["id"] == "h-1" and fake["match"]["refutation"]
        assert [c["id"] for c in client.get("/v1/fakes", headers=key).json()] == ["h-1"]
        assert client.delete("/v1/fakes/h-1", headers=key).status_code == 200
        assert client.delete("/v1/fakes/h-1", headers=key).status_code == 404
        fake = client.post("/v1/classify", json={"text": text}, headers=key).json()["results"][0]["fake"]
        assert fake["source"] == "model" and fake["match"] is None
        bad = client.post("/v1/fakes", json={"id": "x"}, headers=key)
        assert bad.status_code == 422


def test_service_fails_at_start_on_an_unreachable_database(tiny_model_dir):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from cur_nlp_serve.app import create_app
    from cur_nlp_serve.settings import Settings

    settings = Settings(model=tiny_model_dir, locate=False, warmup=False,
                        registry="postgresql+psycopg://u:pw-123@127.0.0.1:1/db")
    with pytest.raises(DatabaseError, match="host 127.0.0.1:1") as error:
        with TestClient(create_app(settings)):
            pass
    assert "pw-123" not in str(error.value)


def test_train_stance_writes_a_model_that_the_matcher_loads(tiny_model_dir, tmp_path):
    """The training recipe end to end on the tiny model and a handful of written posts: stance weights, the tuned
    settings in config.json and eval/fakes.json; the classifier then matches with the stance model."""
    import shutil

    from cur_nlp.classifier import ComplaintClassifier
    from cur_nlp.fakes.stance import StanceModel
    from cur_nlp.model_dir import ModelConfig
    from cur_nlp_training.stance import train_stance

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    data = tmp_path / "fakes"
    data.mkdir()
    registry = data / "registry.jsonl"
    write_claims([WATER, PENSION], registry)
    posts = [("Говорят, воду отключат на месяц во всём городе", "w-1", "spreads", "retelling"),
             ("Правда что месяц не будет воды по всему городу?", "w-1", "spreads", "question"),
             ("Водоканал опроверг, никаких отключений на месяц", "w-1", "refutes", "refutation"),
             ("На Ленина 5 нет воды с утра", None, "unrelated", "complaint"),
             ("Пенсии отменят тем кто не сходит в МФЦ, срочно идите", "p-1", "spreads", "forward"),
             ("Пенсию принесли вовремя, спасибо почте", None, "unrelated", "complaint")]
    rows = [{"id": f"t{i}", "text": t, "claim_id": c, "stance": s, "form": f} for i, (t, c, s, f) in enumerate(posts)]
    (data / "train_posts.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows * 2),
                                            encoding="utf-8")
    eval_claims = [{**Claim("e-1", "Школы закроют на карантин до весны", "Минобр: нет.").to_record(), "split": s}
                   for s in ("dev",)] + [{**Claim("e-2", "Хлеб подорожает втрое", "Нет.").to_record(), "split": "test"}]
    for record in eval_claims:
        for key in ("added", "updated", "active"):
            record.pop(key)
    (data / "eval_claims.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in eval_claims),
                                            encoding="utf-8")
    evaluation = [{"id": "d1", "text": "школы закрывают на карантин до весны, говорят", "claim_id": "e-1",
                   "stance": "spreads", "form": "retelling", "split": "dev"},
                  {"id": "d2", "text": "в школе 5 сломался звонок", "claim_id": None, "stance": "unrelated",
                   "form": "complaint", "split": "dev"},
                  {"id": "x1", "text": "хлеб подорожает в три раза, запасайтесь", "claim_id": "e-2",
                   "stance": "spreads", "form": "statement", "split": "test"},
                  {"id": "x2", "text": "в магазине нет батона", "claim_id": None, "stance": "unrelated",
                   "form": "complaint", "split": "test"}]
    (data / "eval_posts.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in evaluation),
                                           encoding="utf-8")
    result = train_stance(model, data, registry)
    assert result["splits"]["test"] == {"posts": 2, "claims": 4}  # the train and dev claims are distractors there
    assert set(result["test"]) >= {"precision", "recall", "f1", "refuting_flagged", "unrelated_flagged", "recall_by_form"}
    settings = ModelConfig.load(model).extra.fakes
    assert settings is not None and settings.retrieval_threshold == pytest.approx(result["retrieval_threshold"], abs=1e-4)
    assert StanceModel.load(model).weight.shape[1] == 3
    assert json.loads((model / "eval" / "fakes.json").read_text(encoding="utf-8"))["test"] == result["test"]
    classifier = ComplaintClassifier.from_pretrained(model, registry=registry)
    assert classifier.registry.stance is not None
    fake = classifier("Говорят, воду отключат на месяц во всём городе").fake
    assert fake.source in ("registry", "model") and 0.0 <= fake.score <= 1.0
