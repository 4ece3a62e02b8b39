"""The state of one pass of the address rules over a text: its tokens, the mentions found so far and the
tokens they claim. Every rule in ``rules_*.py`` is a function of a :class:`Scan` and a token index."""

from __future__ import annotations

from .mention import Mention
from .tokens import Token


class Scan:
    """Tokens of one text plus what the rules have found in it (``out``) and the tokens streets claim (``used``)."""

    def __init__(self, text: str, toks: list[Token]) -> None:
        self.text = text
        self.toks = toks
        self.n = len(toks)
        self.out: list[Mention] = []
        self.used: set[int] = set()  # token indices inside street/house mentions

    def tok(self, i: int) -> Token | None:
        """Token ``i``, or None outside the text."""
        return self.toks[i] if 0 <= i < self.n else None

    def low(self, i: int) -> str:
        """Lower-cased token ``i`` («» outside the text)."""
        t = self.tok(i)
        return t.low if t is not None else ""

    def skip_dot(self, i: int) -> int:
        """``i + 1`` when token ``i`` is a dot, else ``i``."""
        t = self.tok(i)
        return i + 1 if t is not None and t.text == "." else i

    def span_text(self, i: int, j: int) -> str:
        """Source text of tokens ``i`` to ``j - 1``."""
        return self.text[self.toks[i].start:self.toks[j - 1].end]

    def add(self, i: int, j: int, kind: str, normal: str, *, parts: dict[str, str] | None = None,
            keys: list[str] | None = None, street_type: str | None = None, priority: int = 5,
            source: str = "") -> Mention:
        """Record a mention of tokens ``i`` to ``j - 1``; streets and houses claim their tokens."""
        m = Mention(i, j, self.toks[i].start, self.toks[j - 1].end, kind, normal, dict(parts or {}),
                    list(keys or []), street_type, priority, source)
        self.out.append(m)
        if kind in ("street", "house"):
            self.used.update(range(i, j))
        return m

    def free(self, i: int, j: int) -> bool:
        """No token of ``i`` to ``j - 1`` belongs to a street/house yet."""
        return not any(k in self.used for k in range(i, j))
