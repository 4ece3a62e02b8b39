"""Typed prediction results and their JSON form (the contract of ``cur-nlp predict`` and the API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HeadPrediction:
    """The decision of one head: its label, the calibrated probability of that label and the top labels.

    ``decided_by`` is set when the label shown is not the most probable one: ``"<label>_recall_threshold"`` (the
    label's probability reached ``threshold``, tuned on dev for a recall target, e.g. critical urgency) or
    ``"class_bias"`` (per-class offsets tuned on dev for macro-F1).
    """

    label: str | bool
    score: float
    top: tuple[tuple[str, float], ...] = ()
    decided_by: str | None = None
    threshold: float | None = None

    def to_dict(self, with_top: bool = True) -> dict[str, Any]:
        """JSON-ready form; ``decided_by`` / ``threshold`` only when set."""
        data: dict[str, Any] = {"label": self.label, "score": round(self.score, 4)}
        if with_top and self.top:
            data["top"] = [[label, round(score, 4)] for label, score in self.top]
        if self.decided_by is not None:
            data["decided_by"] = self.decided_by
        if self.threshold is not None:
            data["threshold"] = round(self.threshold, 4)
        return data


@dataclass(frozen=True)
class FakePrediction(HeadPrediction):
    """The fake decision. ``score`` is always the probability that the post spreads a false claim: p(spreads) of
    the stance model when ``source`` is ``"registry"`` (the post is about a registered debunked claim, ``match``),
    else the claim-only model's p(fake) (``source`` ``"model"``). ``stance`` is ``spreads`` or ``refutes`` for a
    registry match, ``None`` otherwise."""

    source: str = "model"
    stance: str | None = None
    match: dict[str, Any] | None = None

    def to_dict(self, with_top: bool = False) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 4), "source": self.source, "stance": self.stance,
                "match": self.match}


@dataclass
class Prediction:
    """Everything cur_nlp reads from one post.

    ``heads`` maps head name (``topic``, ``urgency``, ``fake`` and any head of a retrained model) to its
    decision; ``empty`` marks posts with no text to read (no head decisions then); ``truncated`` marks posts
    longer than the model's maximum length (the model read only the beginning).
    """

    heads: dict[str, HeadPrediction] = field(default_factory=dict)
    locations: list[Any] = field(default_factory=list)
    empty: bool = False
    truncated: bool = False

    @property
    def topic(self) -> HeadPrediction | None:
        return self.heads.get("topic")

    @property
    def urgency(self) -> HeadPrediction | None:
        return self.heads.get("urgency")

    @property
    def fake(self) -> "FakePrediction | HeadPrediction | None":
        return self.heads.get("fake")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: one key per head, plus ``locations``, ``empty`` and ``truncated``."""
        data: dict[str, Any] = {}
        for name, head in self.heads.items():
            data[name] = head.to_dict(with_top=not isinstance(head.label, bool))
        for name in ("topic", "urgency", "fake"):
            data.setdefault(name, None)
        data["locations"] = [loc.to_dict() if hasattr(loc, "to_dict") else loc for loc in self.locations]
        data["empty"] = self.empty
        data["truncated"] = self.truncated
        return data
