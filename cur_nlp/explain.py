"""Why did the model decide so? Word-level occlusion: drop each word, see how the decided label's probability moves.

Occlusion is model-agnostic (works the same for the encoder, the sparse heads and their mix) and needs forward
passes over ``n_words + 1`` texts: fast enough for one post on demand, and bounded by ``max_words`` (only the first
words are weighed). :class:`Occlusion` separates the steps — the texts to score, then the weights from their
scores — so that a service can score the texts in its own batches (``explain`` does all three at once).

>>> clf.explain("Во дворе открыт люк, дети рядом").heads["urgency"].words[:2]   # doctest: +SKIP
[WordWeight(word='люк', start=17, end=20, weight=0.41), WordWeight(word='открыт', ...)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cur_nlp.normalize import normalize_text

_WORD = re.compile(r"\w[\w\-./]*", re.UNICODE)


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


@dataclass
class Occlusion:
    """What explaining ``text`` takes: the words weighed (the first ``max_words``; ``truncated`` when there were
    more) and the texts to score — the text itself, then the text without each word. A text with nothing to read
    (empty, blank, invisible characters only) has no texts to score and gets an ``empty`` explanation.

    >>> occlusion = Occlusion.of("Во дворе открыт люк", max_words=2)
    >>> occlusion.texts, occlusion.truncated
    (['Во дворе открыт люк', ' дворе открыт люк', 'Во  открыт люк'], True)
    """

    text: str
    words: list[re.Match]
    texts: list[str]
    truncated: bool = False

    @classmethod
    def of(cls, text: str, max_words: int | None = None) -> "Occlusion":
        """The occlusion of ``text`` (the raw text; word offsets refer to it)."""
        if not normalize_text(text):
            return cls(text, [], [])
        words = list(_WORD.finditer(text))
        truncated = max_words is not None and len(words) > max_words
        words = words[:max_words] if truncated else words
        return cls(text, words, [text] + [text[: m.start()] + text[m.end() :] for m in words], truncated)

    def explanation(self, classifier, probs: dict[str, np.ndarray], heads: list[str] | None = None) -> Explanation:
        """Word weights for every head's decision, from ``probs``: ``classifier.predict_scores(self.texts)``."""
        from cur_nlp.decoding import decide

        if not self.texts:
            return Explanation(self.text, {}, empty=True)
        result: dict[str, HeadExplanation] = {}
        for head in classifier.config.heads:
            if heads and head.name not in heads:
                continue
            p = probs[head.name]
            chosen = int(decide(head, p[:1])[0])
            label = (chosen == 1) if head.type == "binary" else head.labels[chosen]
            weights = [WordWeight(m.group(), m.start(), m.end(), float(p[0, chosen] - p[i + 1, chosen]))
                       for i, m in enumerate(self.words)]
            weights.sort(key=lambda w: -abs(w.weight))
            result[head.name] = HeadExplanation(label, float(p[0, chosen]), weights)
        return Explanation(self.text, result, truncated=self.truncated)


def explain(classifier, text: str, heads: list[str] | None = None, *, max_words: int | None = None,
            batch_size: int = 64) -> Explanation:
    """Word weights for every head's decision on ``text`` (the raw text; offsets refer to it); ``max_words``: weigh
    only the first words (each costs one more text to score). A text with nothing to read gives an ``empty``
    explanation without scoring anything."""
    occlusion = Occlusion.of(text, max_words)
    probs = classifier.predict_scores(occlusion.texts, batch_size) if occlusion.texts else {}
    return occlusion.explanation(classifier, probs, heads)
