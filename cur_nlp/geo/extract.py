"""Place extraction: Natasha NER (LOC, places inside ORG) + hand-written address rules.

The address rules (:mod:`cur_nlp.geo.rules`) run over :func:`cur_nlp.geo.tokens.tokenize` tokens with
pymorphy features (no yargy at runtime: Natasha's yargy AddrExtractor costs ~18 ms a post). They cover
the social-media spellings of Russian addresses: «ул.Ленина 5», «на Ленина, 12», «пр-т», «д.», «кв.»,
«корп./к.», «лит.», intersections («угол X и Y», «X/Y»), ranges («от X до Y», «между X и Y»), landmarks
(stops, schools, parks...), street names without a type word and house numbers with letters and
fractions («5Б», «2/45»).
"""

from __future__ import annotations

from .mention import Mention, _select
from .ner import _ner_mentions, ner_spans
from .predicates import street_keys
from .rules import Rules
from .tokens import tokenize
from .types import Location

_Rules = Rules  # old name

__all__ = ["Extractor", "Mention", "Rules", "ner_spans", "street_keys"]


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
        if not text or not text.strip():
            return []
        toks = tokenize(text)
        found: list[Mention] = []
        found += Rules(text, toks).run()
        if self.use_ner:
            found += _ner_mentions(text, toks, found)
        return _select(found)
