"""Normalisation of social-network posts before they reach a model, and the text hygiene every reader uses.

Hygiene (the first step of :func:`normalize_text`, also used on its own by the file readers and the service):
lone UTF-16 surrogates become U+FFFD (:func:`replace_surrogates`), byte-order marks and other invisible format
characters go (:func:`strip_invisible`), and bytes that are not UTF-8 are replaced and reported
(:func:`decode_text`). Normalisation then removes markup and personal contact data, keeping what carries meaning
(case, emoji, words).

>>> normalize_text("[id123|Иван], <b>опять</b> нет воды!!!!  Звоните +7 (912) 345-67-89")
'Иван, опять нет воды!!! Звоните <phone>'
"""

from __future__ import annotations

import html
import re
import unicodedata

_VK_MENTION = re.compile(r"\[(?:id|club|public|event)\d+\|([^\]]*)\]")
_HTML_BREAK = re.compile(r"<\s*(?:br|/p|p|/div|div|li)\b[^>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,500}>")
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:ru|рф|com|org|net|su)/\S*", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# Russian phone numbers: +7/8 followed by 10 digits with optional separators; also bare 10-11 digit runs.
_PHONE = re.compile(r"(?<![\w])(?:\+7|8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?![\w])")
_REPEATED_PUNCT = re.compile(r"([!?.,;:])\1{3,}")
_REPEATED_DOTS = re.compile(r"\.{4,}")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# characters that show nothing: soft hyphen, Hangul and braille blanks (used as "empty" text on social networks),
# zero-width joiners and marks, bidirectional controls, word joiner and invisible operators, BOM, tag characters
_INVISIBLE = re.compile("[\u00ad\u034f\u115f\u1160\u180e\u200c-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
                        "\u2800\u3164\ufeff\uffa0\U000e0000-\U000e007f]")


def replace_surrogates(text: str) -> str:
    """Lone UTF-16 surrogates (valid JSON escapes such as ``"\\ud83d"``, but not text) replaced by U+FFFD; the length
    and every offset stay the same.

    >>> replace_surrogates("люк \\ud83d")
    'люк �'
    """
    return _SURROGATE.sub("\ufffd", text)


def strip_invisible(text: str) -> str:
    """``text`` without byte-order marks, zero-width and other invisible format characters (U+200B, a zero-width
    space, stays: :func:`normalize_text` reads it as a space).

    >>> strip_invisible("\\ufeffлюк\\u200d\\u2060")
    'люк'
    """
    return _INVISIBLE.sub("", text)


def decode_text(data: bytes) -> tuple[str, int | None]:
    """UTF-8 ``data`` as text, bytes that are not UTF-8 replaced by U+FFFD, and the offset of the first such byte
    (None when all were valid), so that a reader can report what it replaced.

    >>> decode_text(b"\\xd0\\xbb\\xff")
    ('л�', 2)
    """
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        return data.decode("utf-8", errors="replace"), error.start


def normalize_text(text: str, *, keep_newlines: bool = False) -> str:
    """Clean one post: surrogates and invisible characters (the hygiene above), HTML tags and entities, VK mentions,
    URLs, e-mails, phones, punctuation runs, spaces.

    URLs, e-mails and phone numbers are replaced by ``<url>``, ``<email>`` and ``<phone>`` placeholders;
    runs of the same punctuation mark are cut to three (``!!!``); emoji and letter case are kept.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize_text expects str, got {type(text).__name__}")
    text = unicodedata.normalize("NFC", strip_invisible(replace_surrogates(text)))
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub(" ", text)
    text = html.unescape(text)
    text = _HTML_TAG.sub(" ", text)  # tags that were entity-escaped
    text = _CONTROL.sub(" ", text)
    text = _VK_MENTION.sub(r"\1", text)
    text = _URL.sub("<url>", text)
    text = _EMAIL.sub("<email>", text)
    text = _PHONE.sub("<phone>", text)
    text = _REPEATED_DOTS.sub("...", text)
    text = _REPEATED_PUNCT.sub(r"\1\1\1", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n" if keep_newlines else " ", text)
    return text.strip()
