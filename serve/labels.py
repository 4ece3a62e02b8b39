"""The label sets ``GET /v1/labels`` shows: every head of the loaded model, with names and descriptions."""

from __future__ import annotations

from typing import Any

FAKE_DESCRIPTIONS = {
    True: "presents a false or fabricated claim as fact",
    False: "no false claim presented as fact",
}


def label_sets(classifier: Any) -> dict[str, list[dict[str, Any]]]:
    """The labels of every head of the loaded model, with names and descriptions where the package has them."""
    from cur_nlp.labels import load_topics, load_urgency_levels

    known = {"topic": {t.id: t for t in load_topics()}, "urgency": {u.id: u for u in load_urgency_levels()}}
    sets: dict[str, list[dict[str, Any]]] = {}
    for head in classifier.config.heads:
        if head.type == "binary":
            described = head.name == "fake"
            sets[head.name] = [{"id": value, "description": FAKE_DESCRIPTIONS[value] if described else ""}
                               for value in (True, False)]
            continue
        labels = known.get(head.name, {})
        sets[head.name] = [
            {"id": label, "name": labels[label].name, "description": labels[label].description}
            if label in labels else {"id": label, "name": label, "description": ""}
            for label in head.labels
        ]
    return sets
