"""Why did the model decide so? Word-level occlusion: drop each word, see how the decided label's probability moves.

Occlusion is model-agnostic (works the same for the encoder, the sparse heads and their mix) and needs forward
passes over ``n_words + 1`` texts: fast enough for one post on demand, and bounded by ``max_words`` (only the first
words are weighed) and ``stop`` (checked between batches) for a service.

>>> clf.explain("Во дворе открыт люк, дети рядом").heads["urgency"].words[:2]   # doctest: +SKIP
[WordWeight(word='люк', start=17, end=20, weight=0.41), WordWeight(word='открыт', ...)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cur_nlp.normalize import normalize_text

_WORD = re.compile(r"\w[\w\-./]*", re.UNICODE)


class StopSignal(Protocol):
    """What ``explain(stop=...)`` polls between batches, e.g. a ``threading.Event``."""

    def is_set(self) -> bool: ...


class ExplainStopped(Exception):
    """``explain`` was asked to stop (its ``stop`` signal was set) before it finished."""


@dataclass(frozen=True)
class WordWeight:
    """How much removing ``word`` lowers the probability of the decided label (negative: the word argued against it)."""

    word: str
    start: int
    end: int
    weight: float


@dataclass
class HeadExplanation:
    label: Any
    score: float
    words: list[WordWeight] = field(default_factory=list)

    def to_dict(self, top: int = 8) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 4),
                "words": [{"word": w.word, "start": w.start, "end": w.end, "weight": round(w.weight, 4)}
                          for w in self.words[:top]]}


@dataclass
class Explanation:
    """Per head, the weighed words. ``empty``: the text had nothing to read (no heads then); ``truncated``: only
    the first ``max_words`` words were weighed."""

    text: str
    heads: dict[str, HeadExplanation]
    empty: bool = False
    truncated: bool = False

    def to_dict(self, top: int = 8) -> dict[str, Any]:
        return {name: head.to_dict(top) for name, head in self.heads.items()}

    def to_html(self, head: str) -> str:
        """The text with words shaded by their weight for ``head`` (red pushes towards the label, blue against)."""
        import html

        weights = {(w.start, w.end): w.weight for w in self.heads[head].words}
        scale = max((abs(v) for v in weights.values()), default=1.0) or 1.0
        parts, last = [], 0
        for match in _WORD.finditer(self.text):
            parts.append(html.escape(self.text[last : match.start()]))
            w = weights.get((match.start(), match.end()), 0.0) / scale
            colour = f"rgba(220,40,40,{w:.2f})" if w > 0 else f"rgba(40,80,220,{-w:.2f})"
            parts.append(f'<span style="background:{colour}" title="{w * scale:+.3f}">{html.escape(match.group())}</span>')
            last = match.end()
        parts.append(html.escape(self.text[last:]))
        return f"<p><b>{head}: {self.heads[head].label}</b><br>{''.join(parts)}</p>"


def cost(text: str, max_words: int | None = None) -> int:
    """How many texts :func:`explain` scores for ``text``: the text itself and one per weighed word.

    >>> cost("Во дворе открыт люк"), cost("Во дворе открыт люк", max_words=2)
    (5, 3)
    """
    words = sum(1 for _ in _WORD.finditer(text))
    return 1 + (words if max_words is None else min(words, max_words))


def explain(classifier, text: str, heads: list[str] | None = None, *, max_words: int | None = None,
            stop: StopSignal | None = None, batch_size: int = 64) -> Explanation:
    """Word weights for every head's decision on ``text`` (the raw text; offsets refer to it).

    ``max_words``: weigh only the first words (each costs one more text to score); ``stop``: polled before every
    batch of ``batch_size`` texts, :class:`ExplainStopped` when set. A text with nothing to read (empty, blank,
    invisible characters only) gives an ``empty`` explanation without scoring anything.
    """
    from cur_nlp.decoding import decide

    if not normalize_text(text):
        return Explanation(text, {}, empty=True)
    words = list(_WORD.finditer(text))
    truncated = max_words is not None and len(words) > max_words
    words = words[:max_words] if truncated else words
    variants = [text] + [text[: m.start()] + text[m.end() :] for m in words]
    probs = _scores_in_batches(classifier, variants, stop, batch_size)
    result: dict[str, HeadExplanation] = {}
    for head in classifier.config.heads:
        if heads and head.name not in heads:
            continue
        p = probs[head.name]
        chosen = int(decide(head, p[:1])[0])
        label = (chosen == 1) if head.type == "binary" else head.labels[chosen]
        weights = [WordWeight(m.group(), m.start(), m.end(), float(p[0, chosen] - p[i + 1, chosen]))
                   for i, m in enumerate(words)]
        weights.sort(key=lambda w: -abs(w.weight))
        result[head.name] = HeadExplanation(label, float(p[0, chosen]), weights)
    return Explanation(text, result, truncated=truncated)


def _scores_in_batches(classifier, texts: list[str], stop: StopSignal | None, batch_size: int) -> dict[str, np.ndarray]:
    """``classifier.predict_scores`` of ``texts``, ``batch_size`` at a time, checking ``stop`` before each batch."""
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(texts), batch_size):
        if stop is not None and stop.is_set():
            raise ExplainStopped(f"stopped after {start} of {len(texts)} texts")
        parts.append(classifier.predict_scores(texts[start : start + batch_size], batch_size))
    return {head: np.concatenate([part[head] for part in parts]) for head in parts[0]}
