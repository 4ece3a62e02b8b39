"""Natasha NER (slovnet) as a source of place mentions: LOC spans and toponyms inside ORG spans."""

from __future__ import annotations

import re
import threading
import warnings
from functools import lru_cache
from typing import Any, Sequence

from . import lexicon as lx
from .mention import Mention
from .morph import fold, is_common_word, name_keys, normalize_phrase, parses
from .tokens import Token

# ----------------------------------------------------------------------------- resources

_NLP_LOCK = threading.Lock()
NER_BATCH_SIZE = 16  # measured: 16 tags ~1.4x faster than 32 or 64 (less padding), 128 is 3x slower


@lru_cache(maxsize=1)
def _nlp() -> Any:
    """Natasha's news NER tagger (slovnet), loaded once per process."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from natasha import NewsEmbedding, NewsNERTagger

        tagger = NewsNERTagger(NewsEmbedding())
        tagger.batch_size = tagger.infer.encoder.batch_size = NER_BATCH_SIZE
        return tagger


@lru_cache(maxsize=1)
def _blas_controllers() -> tuple[Any, ...]:
    """numpy's BLAS thread pools (via the optional ``threadpoolctl``), empty if unavailable."""
    try:
        import importlib

        importlib.import_module("numpy")  # load the BLAS library before asking for its pools
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - optional dependency
        return ()
    return tuple(c for c in ThreadpoolController().lib_controllers if c.user_api == "blas")


def ner_spans(text: str, single_thread: bool = True) -> list[tuple[int, int, str]]:
    """Natasha NER spans ``(start, end, type)`` with type in PER/LOC/ORG (see :func:`ner_spans_many`)."""
    return ner_spans_many([text], single_thread)[0]


def ner_spans_many(texts: Sequence[str], single_thread: bool = True) -> list[list[tuple[int, int, str]]]:
    """Natasha NER spans of many texts, tagged in length-sorted batches (the tagger pads a batch to its
    longest text), in input order.

    The slovnet tagger multiplies tiny matrices; a multi-threaded BLAS makes that ~7x slower on a
    busy machine, so by default BLAS is held to one thread during the call (needs ``threadpoolctl``).
    """
    tagger = _nlp()
    result: list[list[tuple[int, int, str]]] = [[] for _ in texts]
    order = sorted((i for i, t in enumerate(texts) if t.strip()), key=lambda i: len(texts[i]))
    if not order:
        return result
    libs = _blas_controllers() if single_thread else ()
    with _NLP_LOCK:
        prev = [c.get_num_threads() for c in libs]
        for c in libs:
            c.set_num_threads(1)
        try:
            for i, markup in zip(order, tagger.map([texts[i] for i in order])):
                result[i] = [(s.start, s.stop, s.type) for s in markup.spans]
        finally:
            for c, k in zip(libs, prev):
                c.set_num_threads(k)
    return result


# ----------------------------------------------------------------------------- NER

_NER_TYPE_WORDS = re.compile(r"(район|област|края|край|крае|республик|округ)", re.I)


def _ner_mentions(text: str, toks: list[Token], spans: list[tuple[int, int, str]]) -> list[Mention]:
    """Place mentions from the NER ``spans`` of ``text``: LOC spans and toponyms inside ORG spans."""
    out: list[Mention] = []
    starts = {t.start: k for k, t in enumerate(toks)}
    ends = {t.end: k for k, t in enumerate(toks)}
    for s, e, typ in spans:
        if typ == "LOC":
            _add_ner(text, s, e, out, starts, ends, toks, source="ner-loc", priority=2)
        elif typ == "ORG":
            # toponyms inside an organisation name: «администрация Тимашевска», «мэрии Москвы»
            for k, t in enumerate(toks):
                if t.start < s or t.end > e or not t.is_cap or k == starts.get(s, -1) and len(
                        [x for x in toks if s <= x.start < e]) == 1:
                    continue
                if any("Geox" in p.tag.grammemes for p in parses(t.low)[:2]) and t.start != s:
                    _add_ner(text, t.start, t.end, out, starts, ends, toks, source="ner-org", priority=1)
    return out


def _add_ner(text: str, s: int, e: int, out: list[Mention], starts: dict[int, int], ends: dict[int, int],
             toks: list[Token], *, source: str, priority: int) -> None:
    span = text[s:e]
    ti = starts.get(s)
    tj = ends.get(e)
    if ti is None or tj is None:
        return
    low = fold(span)
    if " " not in span and "-" not in span and toks[ti].sent_start and is_common_word(low) and \
            not any("Geox" in p.tag.grammemes for p in parses(low)[:4]):
        return  # a common noun tagged LOC at a sentence start («Жители», «Соседи»)
    if low in lx.COUNTRY_NAMES:
        kind = "region"
    elif _NER_TYPE_WORDS.search(span):
        kind = "district" if re.search("район", span, re.I) else "region"
    else:
        kind = "settlement"
    normal = normalize_phrase(span)
    out.append(Mention(ti, tj + 1, s, e, kind, normal[:1].upper() + normal[1:], {}, name_keys(span), None,
                       priority, source))
