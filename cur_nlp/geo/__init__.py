"""Places in complaints: extraction (Natasha NER + address rules), gazetteers, resolution, heat map.

>>> from cur_nlp.geo import Locator
>>> locator = Locator.default(default_region="Краснодарский край")   # doctest: +SKIP
>>> [loc.to_dict() for loc in locator("В Тимашевске на улице Лесной прорвало трубу")]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .extract import Extractor
from .gazetteer import Gazetteer
from .gazetteer_geonames import GeonamesGazetteer
from .gazetteer_table import TableGazetteer
from .resolve import Locator
from .types import KINDS, LEVELS, Candidate, Location

__all__ = [
    "KINDS", "LEVELS", "Candidate", "Extractor", "Gazetteer", "GeonamesGazetteer", "Location", "Locator",
    "TableGazetteer", "extract_locations", "run_heatmap",
]

if TYPE_CHECKING:  # pragma: no cover
    from .heatmap import run_heatmap


def extract_locations(text: str, use_ner: bool = True) -> list[Location]:
    """Place mentions of ``text`` without geocoding (lat/lon None)."""
    return _extractor(use_ner)(text)


_EXTRACTORS: dict[bool, Extractor] = {}


def _extractor(use_ner: bool) -> Extractor:
    if use_ner not in _EXTRACTORS:
        _EXTRACTORS[use_ner] = Extractor(use_ner=use_ner)
    return _EXTRACTORS[use_ner]


def __getattr__(name: str) -> Any:
    # heatmap pulls in folium/matplotlib: import it only when asked for
    if name == "run_heatmap":
        from .heatmap import run_heatmap

        return run_heatmap
    raise AttributeError(name)
