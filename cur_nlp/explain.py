"""Why did the model decide so? Word-level occlusion: drop each word, see how the decided label's probability moves.

Occlusion is model-agnostic (works the same for the encoder, the sparse heads and their mix) and needs one batched
forward pass of ``n_words + 1`` texts, fast enough for one post on demand.

>>> clf.explain("Во дворе открыт люк, дети рядом").heads["urgency"].words[:2]   # doctest: +SKIP
[WordWeight(word='люк', start=17, end=20, weight=0.41), WordWeight(word='открыт', ...)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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
    text: str
    heads: dict[str, HeadExplanation]

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


def explain(classifier, text: str, heads: list[str] | None = None) -> Explanation:
    """Word weights for every head's decision on ``text`` (the raw text; offsets refer to it)."""
    from cur_nlp.decoding import decide

    words = list(_WORD.finditer(text))
    variants = [text] + [text[: m.start()] + text[m.end() :] for m in words]
    probs = classifier.predict_scores(variants)
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
    return Explanation(text, result)
