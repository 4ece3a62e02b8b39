"""A small tokenizer that keeps character offsets and address-friendly numbers («5Б», «2/45», «17-й»)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN_RE = re.compile(
    r"(?P<ord>\d+-[^\W\d_]+|\d+(?:ой|ый|ий|ая|ья|ье|ое|го|ого|ом|ей)(?![^\W\d_]))"
    r"|(?P<num>\d+(?:[/\\]\d+)?(?:(?![кК]\.?\d)[^\W\d_](?![^\W\d_]))?(?:[/\\]\d+)?)"
    r"|(?P<word>[^\W\d_]+(?:[-'’][^\W\d_]+)*)"
    r"|(?P<punct>[^\w\s])",
    re.UNICODE,
)
ORDINAL_SUFFIXES = {"й", "я", "е", "го", "ой", "ая", "ий", "ый", "ое", "ье", "ья", "м", "ом", "ей", "х", "ых", "ого"}
SENT_END = {".", "!", "?", "…"}


@dataclass
class Token:
    """One token with its offsets; ``low`` is lower-cased with «ё» → «е»."""

    text: str
    start: int
    end: int
    type: str  # word | num | ord | punct
    low: str
    sent_start: bool = False
    nl_before: bool = False

    @property
    def is_word(self) -> bool:
        return self.type == "word"

    @property
    def is_num(self) -> bool:
        return self.type == "num"

    @property
    def is_cap(self) -> bool:
        return self.type == "word" and self.text[:1].isupper()

    @property
    def is_ordinal(self) -> bool:
        """«2-я», «17-й» (a number with an ordinal ending)."""
        if self.type != "ord":
            return False
        return self.suffix in ORDINAL_SUFFIXES

    @property
    def suffix(self) -> str:
        """Letters after the digits of an «ord» token («17-й» → «й», «5ой» → «ой»)."""
        return re.sub(r"^\d+-?", "", self.low)

    @property
    def digits(self) -> str:
        m = re.match(r"\d+", self.low)
        return m.group() if m else ""

    @property
    def is_house_like(self) -> bool:
        """A number that may be a house number: «5», «5Б», «2/45», «12-а»."""
        if self.type == "num":
            return True
        if self.type == "ord":
            suf = self.suffix
            return "-" in self.low and len(suf) == 1 and suf not in ("й", "я", "е", "х", "м")
        return False


_SPLIT_HYPHEN = re.compile(r"^(?P<a>[^\W\d_]+(?:ова|ева|ёва|ина|ына|ого|его|батыра|би|хана))-(?P<b>[А-ЯЁӘҒҚҢӨҰҮҺІ][^\W\d_]+)$")


def _matches(text: str):
    """Token matches; «Муканова-Айтеке» (two street names glued by a hyphen) is split in two."""
    for m in _TOKEN_RE.finditer(text):
        if m.lastgroup == "word" and "-" in m.group():
            sm = _SPLIT_HYPHEN.match(m.group())
            if sm is not None:
                s = m.start()
                yield "word", sm.group("a"), s, s + sm.end("a")
                yield "punct", "-", s + sm.end("a"), s + sm.end("a") + 1
                yield "word", sm.group("b"), s + sm.start("b"), m.end()
                continue
        yield m.lastgroup or "punct", m.group(), m.start(), m.end()


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens and mark sentence starts."""
    toks: list[Token] = []
    prev_end = 0
    for kind, s, start, end in _matches(text):
        t = Token(s, start, end, kind, s.lower().replace("ё", "е"))
        gap = text[prev_end:start]
        t.nl_before = "\n" in gap
        if not toks or t.nl_before:
            t.sent_start = True
        else:
            p = toks[-1]
            if p.type == "punct" and p.text in SENT_END:
                # a dot after a one/two-letter abbreviation («ул.», «д.») does not end a sentence
                pp = toks[-2] if len(toks) > 1 else None
                abbrev = pp is not None and pp.type == "word" and len(pp.text) <= 4 and pp.text.islower()
                t.sent_start = not (p.text == "." and abbrev)
            elif p.type == "punct" and p.text in ("—", "–") and len(toks) == 1:
                t.sent_start = True
        toks.append(t)
        prev_end = end
    return toks
