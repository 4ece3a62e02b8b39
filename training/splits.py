"""Deduplication and train/dev/test splits for every source.

SPb is a time series: train = Oct 2020 - Feb 2021, dev = 1-15 March 2021, test = 16-31 March 2021.
Kursk and RU22Fact are split stratified by label with a fixed seed; the team-written social corpus by the split its
writing batch was assigned. Exact and near-exact duplicates
(same text after lower-casing, ё→е and dropping everything but letters and digits) are removed before
splitting, keeping the earliest row, so no text can appear in two splits.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from datasets import Dataset, DatasetDict, concatenate_datasets, load_from_disk
from sklearn.model_selection import train_test_split

from cur_nlp_training.data import load_source

SPLITS = ("train", "dev", "test")
SPB_TRAIN_END = "2021-03-01"
SPB_DEV_END = "2021-03-16"
SEED = 13
MIN_TEXT_CHARS = 3

_NON_WORD = re.compile(r"[^0-9a-zа-я]+")


def near_duplicate_key(text: str) -> str:
    """The key under which two texts count as the same post."""
    return _NON_WORD.sub(" ", text.lower().replace("ё", "е")).strip()


def deduplicate(dataset: Dataset, order_by: str | None = None) -> Dataset:
    """Drop rows whose ``near_duplicate_key`` was already seen (earliest first when ``order_by`` is given)."""
    if order_by:
        dataset = dataset.sort(order_by)
    seen: set[str] = set()
    keep = []
    for index, text in enumerate(dataset["text"]):
        key = near_duplicate_key(text)
        if len(key) < MIN_TEXT_CHARS or key in seen:
            continue
        seen.add(key)
        keep.append(index)
    return dataset.select(keep)


def split_by_time(dataset: Dataset) -> DatasetDict:
    """SPb time split on the ``created`` column (ISO strings compare in time order)."""
    created = dataset["created"]
    return DatasetDict(
        train=dataset.select([i for i, c in enumerate(created) if c < SPB_TRAIN_END]),
        dev=dataset.select([i for i, c in enumerate(created) if SPB_TRAIN_END <= c < SPB_DEV_END]),
        test=dataset.select([i for i, c in enumerate(created) if c >= SPB_DEV_END]),
    )


def split_by_column(dataset: Dataset) -> DatasetDict:
    """The split each row names in its ``split`` column (the team-written corpus is split by writing batch)."""
    names = dataset["split"]
    return DatasetDict({s: dataset.select([i for i, n in enumerate(names) if n == s]) for s in SPLITS})


def split_stratified(dataset: Dataset, label: str, dev: float, test: float, seed: int = SEED) -> DatasetDict:
    """Stratified split; labels too rare to stratify (fewer than 3 rows) go to train."""
    labels = [str(v) for v in dataset[label]]
    counts = Counter(labels)
    rare = [i for i, v in enumerate(labels) if counts[v] < 3]
    common = [i for i, v in enumerate(labels) if counts[v] >= 3]
    common_labels = [labels[i] for i in common]
    train_idx, rest_idx = train_test_split(
        common, test_size=dev + test, stratify=common_labels, random_state=seed
    )
    rest_labels = [labels[i] for i in rest_idx]
    rest_counts = Counter(rest_labels)
    stratify = rest_labels if min(rest_counts.values()) >= 2 else None
    dev_idx, test_idx = train_test_split(
        rest_idx, test_size=test / (dev + test), stratify=stratify, random_state=seed
    )
    return DatasetDict(
        train=dataset.select(sorted(train_idx + rare)),
        dev=dataset.select(sorted(dev_idx)),
        test=dataset.select(sorted(test_idx)),
    )


def build_splits(source: str, path: str | Path | None = None) -> DatasetDict:
    """Load, deduplicate and split one source by its rule."""
    dataset = load_source(source, path)
    if source == "spb":
        return split_by_time(deduplicate(dataset, order_by="created"))
    if source == "kursk":
        return split_stratified(deduplicate(dataset), "topic", dev=0.15, test=0.2)
    if source == "ru22fact":
        return split_stratified(deduplicate(dataset), "fake", dev=0.2, test=0.3)
    if source == "social":
        return split_by_column(deduplicate(dataset))
    raise ValueError(f"no split rule for source {source!r}")


def prepare_all(out_dir: str | Path, sources: tuple[str, ...] = ("spb", "kursk", "ru22fact", "social")) -> dict[str, DatasetDict]:
    """Build splits for every source and save them as ``out_dir/<source>`` (``datasets`` format)."""
    result = {}
    for source in sources:
        splits = build_splits(source)
        splits.save_to_disk(str(Path(out_dir) / source))
        result[source] = splits
    return result


def load_prepared(data_dir: str | Path, source: str) -> DatasetDict:
    """Load the splits saved by ``prepare_all``."""
    path = Path(data_dir) / source
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `cur-nlp data prepare --out {data_dir}` first")
    return load_from_disk(str(path))


def combined(splits: dict[str, DatasetDict], split: str) -> Dataset:
    """One split of every source concatenated."""
    return concatenate_datasets([s[split] for s in splits.values()])


def check_texts(data_dir: str | Path, split: str = "dev", max_texts: int = 4000) -> tuple[list[str], list[str | None]]:
    """Texts and topic labels of one split of every prepared source in ``data_dir``, thinned to at most ``max_texts``
    by taking every k-th: what ``cur-nlp export-onnx --data`` checks a backend on."""
    texts: list[str] = []
    topics: list[str | None] = []
    for source in sorted(p.name for p in Path(data_dir).iterdir() if p.is_dir()):
        rows = load_prepared(data_dir, source)[split]
        texts += list(rows["text"])
        topics += list(rows["topic"]) if "topic" in rows.column_names else [None] * len(rows)
    step = max(1, len(texts) // max_texts) if texts else 1
    return texts[::step][:max_texts], topics[::step][:max_texts]
