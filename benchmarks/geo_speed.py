"""Speed of place extraction + geocoding per post on one CPU core.

    python benchmarks/geo_speed.py [--repeat 5] [--spb-gazetteer artifacts/spb_streets.csv]

Prints ms/post for: rules only, rules + Natasha NER (extraction), and extraction + geocoding with
the built-in geonames gazetteer (and with the SPb street gazetteer on real portal posts when the
shared data and the gazetteer built by ``python -m cur_nlp_training.geo_eval build-spb-gazetteer`` exist).
Start-up (model and gazetteer loading) is reported separately and not included. «cold» = the first
pass over the posts with empty word-analysis caches, «warm» = median of later passes.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Sequence  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SPB = REPO.parent / "shared" / "data" / "spb_nash_gorod_2020-10_2021-03.jsonl.gz"

TYPICAL_POSTS = [
    "Здравствуйте! В Тимашевске на улице Лесной третий день нет воды, управляющая компания молчит.",
    "ул.Ленина 5, второй подъезд: не работает лифт, пожилые люди не могут выйти из дома.",
    "На углу Гоголя и Байзакова опять не работает светофор, машины едут как хотят.",
    "Пр-т Мира д.5 корп.2 кв.17 — течёт крыша после каждого дождя, просим помочь!",
    "Яма на дороге у остановки «Площадь Восстания», машины бьют колёса.",
    "Мусор не вывозят третий день, контейнеры переполнены. Невский пр., 28.",
    "Участок улицы Толе би от Абая до Кабанбай батыра требует ремонта тротуаров.",
    "Жители Кропоткина жалуются на отсутствие освещения на центральных улицах.",
    "Спасибо за ремонт детской площадки во дворе!",
    "В поликлинике №3 невозможно записаться к врачу, телефон не отвечает.",
    "На Ленина, 12 прорвало трубу, вода заливает подвал.",
    "Граффити на стене дома по адресу Рубинштейна 2/45, просьба закрасить.",
]


def _clear_word_caches() -> None:
    """Forget cached pymorphy analyses, so a pass pays for every word once (a «cold» pass)."""
    from cur_nlp.geo import morph

    for fn in (morph.parses, morph.is_known, morph.has_name_tag, morph.is_common_word, morph.is_adjective):
        fn.cache_clear()


def _time(fn: Callable[[str], object], posts: Sequence[str], repeat: int) -> tuple[float, float]:
    """(cold, warm) ms/post: first pass with empty word caches, median of ``repeat`` later passes."""
    fn("Прогрев: улица Ленина, дом 1")
    _clear_word_caches()
    t0 = time.perf_counter()
    for p in posts:
        fn(p)
    cold = (time.perf_counter() - t0) * 1000 / len(posts)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p in posts:
            fn(p)
        runs.append((time.perf_counter() - t0) * 1000 / len(posts))
    return cold, statistics.median(runs)


def _fmt(t: tuple[float, float]) -> str:
    return f"{t[0]:6.2f} ms/post cold, {t[1]:6.2f} warm"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--spb-gazetteer", type=Path, default=REPO / "artifacts" / "spb_streets.csv")
    ap.add_argument("--spb-posts", type=int, default=500)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass

    from cur_nlp.geo import Extractor, GeonamesGazetteer, Locator, TableGazetteer
    from cur_nlp.geo.ner import _nlp

    t0 = time.perf_counter()
    _nlp()
    load_ner = time.perf_counter() - t0
    t0 = time.perf_counter()
    GeonamesGazetteer.shared()
    load_geo = time.perf_counter() - t0
    print(f"startup: NER model {load_ner:.2f} s, geonames index {load_geo:.2f} s (once per process)")

    posts = TYPICAL_POSTS
    rules = Extractor(use_ner=False)
    full = Extractor()
    locator = Locator.default()
    print(f"typical posts (n={len(posts)}, mean {statistics.mean(len(p) for p in posts):.0f} chars):")
    print(f"  rules only                        {_fmt(_time(rules.mentions, posts, args.repeat))}")
    print(f"  extraction (rules + NER)          {_fmt(_time(full.mentions, posts, args.repeat))}")
    print(f"  extraction + geocoding (geonames) {_fmt(_time(locator, posts, args.repeat))}")

    if SPB.exists() and args.spb_gazetteer.exists():
        spb_posts = []
        with gzip.open(SPB, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if r.get("created", "").startswith("2021-03"):
                    spb_posts.append(r["text"])
                if len(spb_posts) >= args.spb_posts:
                    break
        spb = Locator.default(TableGazetteer.from_file(args.spb_gazetteer), default_region="Санкт-Петербург",
                              default_city="Санкт-Петербург")
        mean_chars = statistics.mean(len(p) for p in spb_posts)
        print(f"SPb portal posts, March 2021 (n={len(spb_posts)}, mean {mean_chars:.0f} chars):")
        print(f"  extraction + geocoding (streets)  {_fmt(_time(spb, spb_posts, args.repeat))}")
    else:
        print("SPb posts skipped (needs ../shared/data and the SPb gazetteer in artifacts/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
