"""From texts to encoder batches: clean → tokenize → clip → length-sorted, padded batches.

The one place where token ids are made and padded: the classifier, training, the ONNX export and the tests all
feed the encoder through these functions, so a model sees in production exactly what it saw in training.
"""

from __future__ import annotations

import random
from typing import Any, Iterator, Sequence

import numpy as np

from cur_nlp.normalize import normalize_text


def clean_texts(texts: Sequence[str]) -> list[str]:
    """Normalised copies of ``texts`` (:func:`~cur_nlp.normalize.normalize_text`); a type error names the item."""
    if isinstance(texts, str):
        raise TypeError("expected a list of texts, found one str; wrap it in a list")
    cleaned = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text #{index}: expected str, found {type(text).__name__}")
        cleaned.append(normalize_text(text))
    return cleaned


def clip(ids: list[int], limit: int) -> list[int]:
    """``ids`` cut to ``limit`` tokens, keeping the final special token (``[SEP]``)."""
    return ids if len(ids) <= limit else ids[: limit - 1] + [ids[-1]]


def encode(tokenizer: Any, texts: Sequence[str], prefix: str, max_length: int) -> tuple[list[list[int]], np.ndarray]:
    """Token ids of ``prefix + text`` with special tokens, clipped to ``max_length``, and whether each text was longer.

    ``tokenizer``: anything called like a Hugging Face tokenizer (``tokenizer(texts, truncation=, max_length=)``
    returning ``input_ids``), such as :class:`~cur_nlp.tokenizer.EncoderTokenizer` or ``AutoTokenizer``.
    """
    # one token over the limit tells us the text was longer than the model reads
    ids = tokenizer([prefix + t for t in texts], truncation=True, max_length=max_length + 1)["input_ids"]
    truncated = np.array([len(x) > max_length for x in ids], dtype=bool)
    return [clip(x, max_length) for x in ids], truncated


def padded_width(width: int, multiple: int, limit: int) -> int:
    """``width`` rounded up to a multiple of ``multiple``, but never past ``limit`` (unless already past it)."""
    return min(-(-width // multiple) * multiple, max(width, limit))


def pad(ids: Sequence[list[int]], pad_id: int, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ``input_ids`` and ``attention_mask`` (int64, ``(len(ids), width)``; default width: the longest)."""
    width = width or max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return input_ids, mask


def sorted_batches(ids: Sequence[list[int]], batch_size: int, pad_id: int, width_multiple: int = 1,
                   limit: int | None = None, truncated: np.ndarray | None = None,
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Inference batches of texts of similar length: ``(rows, input_ids, attention_mask)`` per batch, where ``rows``
    are the positions in ``ids``. A stable sort by length (clipped texts, ``truncated``, after the others of their
    length) keeps padding small and the batches deterministic; widths are rounded up to ``width_multiple`` within
    ``limit``."""
    lengths = np.array([len(x) for x in ids])
    order = np.argsort(lengths + (0 if truncated is None else np.asarray(truncated, dtype=int)), kind="stable")
    limit = limit or int(lengths.max(initial=1))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = padded_width(int(lengths[rows].max()), width_multiple, limit)
        input_ids, mask = pad([ids[i] for i in rows], pad_id, width)
        yield rows, input_ids, mask


def bucketed_batches(lengths: Sequence[int], batch_size: int, rng: random.Random,
                     shuffle: bool = True) -> list[list[int]]:
    """Training batches of similar lengths: shuffle, sort within chunks of 50 batches, then shuffle the batches."""
    order = list(range(len(lengths)))
    if shuffle:
        rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    if shuffle:
        rng.shuffle(batches)
    return batches
