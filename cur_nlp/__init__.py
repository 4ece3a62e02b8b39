"""cur_nlp: topic, urgency, fake and places in citizens' posts for regional control centres.

>>> from cur_nlp import ComplaintClassifier            # doctest: +SKIP
>>> ComplaintClassifier.from_pretrained()("Открыт люк во дворе").urgency.label   # doctest: +SKIP
'critical'
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["ComplaintClassifier", "Prediction", "HeadPrediction", "normalize_text", "__version__"]


def __getattr__(name: str):
    # heavy imports (torch, transformers) only when the classifier is asked for
    if name == "ComplaintClassifier":
        from cur_nlp.classifier import ComplaintClassifier

        return ComplaintClassifier
    if name in ("Prediction", "HeadPrediction"):
        from cur_nlp import results

        return getattr(results, name)
    if name == "normalize_text":
        from cur_nlp.normalize import normalize_text

        return normalize_text
    raise AttributeError(f"module 'cur_nlp' has no attribute {name!r}")
