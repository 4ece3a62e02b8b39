"""Normalisation of social-network posts before they reach a model.

Removes markup and personal contact data, keeps what carries meaning (case, emoji, words).

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


def normalize_text(text: str, *, keep_newlines: bool = False) -> str:
    """Clean one post: HTML tags and entities, VK mentions, URLs, e-mails, phones, punctuation runs, spaces.

    URLs, e-mails and phone numbers are replaced by ``<url>``, ``<email>`` and ``<phone>`` placeholders;
    runs of the same punctuation mark are cut to three (``!!!``); emoji and letter case are kept.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize_text expects str, got {type(text).__name__}")
    text = unicodedata.normalize("NFC", text)
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
