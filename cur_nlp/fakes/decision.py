"""One fake decision per post from the registry match (if any) and the claim-only model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cur_nlp.results import FakePrediction, HeadPrediction

if TYPE_CHECKING:
    from cur_nlp.fakes.matcher import RegistryMatch


def decide_fake(model: HeadPrediction, match: "RegistryMatch | None") -> FakePrediction:
    """The registry decides when the post is about a registered claim (spreading it is fake, refuting it is not,
    whatever the claim-only model says); otherwise the model's own decision (its threshold tuned on dev) stands.
    ``model.score`` is the model's p(fake)."""
    if match is None:
        return FakePrediction(bool(model.label), float(model.score), source="model")
    claim = match.claim
    return FakePrediction(
        match.stance == "spreads", match.spread_probability, source="registry", stance=match.stance,
        match={"id": claim.id, "claim": claim.claim, "refutation": claim.refutation, "link": claim.link,
               "similarity": round(match.similarity, 4)})
