"""Corpus evaluations of cur_nlp.geo (slow: run with --run-slow; skip without ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cur_nlp_training import geo_eval

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
requires_data = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data (evaluation corpora) is absent")

pytestmark = [pytest.mark.slow]


def test_span_matching_is_one_to_one() -> None:
    tp, npred, ngold = geo_eval.match_spans([(0, 5), (10, 15)], [(0, 15)])
    assert (tp, npred, ngold) == (1, 1, 2)
    assert geo_eval.match_spans([(0, 5)], [(20, 25)], ignore=[(18, 30)]) == (0, 0, 1)


def test_spb_address_parsing() -> None:
    a = geo_eval.parse_spb_address("г.Санкт-Петербург, Мебельная улица, дом 47, корпус 1, литера А")
    assert a == {"settlement": "Санкт-Петербург", "street": "Мебельная улица", "house": "47", "corpus": "1",
                 "litera": "А"}
    assert geo_eval.text_names_street("Грязь у дома Мебельная 47", "Мебельная улица")
    assert geo_eval.text_names_house("Мебельная 47к1", "47") and not geo_eval.text_names_house("в 1947 году", "47")


def test_settlements_gold_file() -> None:
    res = geo_eval.eval_settlements()
    assert res["all"]["total"] >= 50
    assert res["all"]["accuracy"] >= 0.9


@requires_data
def test_almaty_street_f1() -> None:
    res = geo_eval.eval_almaty(baseline=True)
    assert res["cur_nlp"]["all"]["f1"] >= 0.85
    assert res["cur_nlp"]["heldout_odd"]["f1"] >= 0.85
    assert res["natasha_addr"]["all"]["f1"] < res["cur_nlp"]["all"]["f1"]


@requires_data
def test_factru_location_f1() -> None:
    res = geo_eval.eval_factru()
    assert res["cur_nlp"]["f1"] >= 0.85


@requires_data
def test_spb_march(tmp_path: Path) -> None:
    gaz = tmp_path / "spb_streets.csv"
    built = geo_eval.build_spb_gazetteer(gaz)
    assert built["months"] == ["2020-10", "2021-02"] and built["houses"] > 1000
    res = geo_eval.eval_spb(gaz)
    assert res["house"]["posts"] > 100 and res["district"]["posts"] > 100
    assert res["house"]["share"] >= 0.8
    assert res["district"]["share"] >= 0.9
