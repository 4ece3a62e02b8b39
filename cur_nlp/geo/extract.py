"""Place extraction: Natasha NER (LOC, places inside ORG) + hand-written address rules.

The address rules (:mod:`cur_nlp.geo.rules`) run over :func:`cur_nlp.geo.tokens.tokenize` tokens with
pymorphy features (no yargy at runtime: Natasha's yargy AddrExtractor costs ~18 ms a post). They cover
the social-media spellings of Russian addresses: «ул.Ленина 5», «на Ленина, 12», «пр-т», «д.», «кв.»,
«корп./к.», «лит.», intersections («угол X и Y», «X/Y»), ranges («от X до Y», «между X и Y»), landmarks
(stops, schools, parks...), street names without a type word and house numbers with letters and
fractions («5Б», «2/45»).
"""

from __future__ import annotations

import logging
from typing import Sequence

from .mention import Mention, _select
from .ner import _ner_mentions, ner_spans, ner_spans_many
from .normalize import street_keys
from .rules import Rules
from .tokens import tokenize
from .types import Location

_Rules = Rules  # old name
log = logging.getLogger("cur_nlp.geo")

__all__ = ["Extractor", "Mention", "Rules", "ner_spans", "ner_spans_many", "street_keys"]


class Extractor:
    """Finds place mentions in a text. Thread-safe; heavy resources are shared process-wide.

    >>> ex = Extractor(use_ner=False)
    >>> [(l.kind, l.normal) for l in ex("Яма у дома ул.Ленина 5")]
    [('house', 'улица Ленина, 5')]
    """

    def __init__(self, use_ner: bool = True) -> None:
        self.use_ner = use_ner

    # -- public
    def __call__(self, text: str) -> list[Location]:
        """Place mentions of ``text`` as unresolved :class:`Location` objects, in text order."""
        return [m.to_location(text) for m in self.mentions(text)]

    def mentions(self, text: str) -> list[Mention]:
        """Internal mentions with lookup keys (used by the resolver)."""
        return self.mentions_many([text])[0]

    def mentions_many(self, texts: Sequence[str]) -> list[list[Mention]]:
        """:meth:`mentions` of many texts; the NER model tags them in batches (several times faster)."""
        spans: list[list[tuple[int, int, str]]] = [[] for _ in texts]
        if self.use_ner:
            try:
                spans = ner_spans_many(texts)
            except Exception:  # pragma: no cover - a broken NER model must not break the address rules
                log.exception("NER failed; places come from the address rules only")
        out = []
        for text, text_spans in zip(texts, spans):
            if not text or not text.strip():
                out.append([])
                continue
            toks = tokenize(text)
            found = Rules(text, toks).run() + _ner_mentions(text, toks, text_spans)
            out.append(_select(found))
        return out
