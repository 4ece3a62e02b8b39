"""Token ids for the encoder, read straight from a model directory's ``tokenizer.json`` with the ``tokenizers``
library (the Rust tokenizer under every Hugging Face "fast" tokenizer).

Going through ``transformers`` for this costs 0.5 s of imports at start-up and pulls in nothing the classifier needs;
the ONNX backends then run without importing torch or transformers at all. The ids are the ones
``AutoTokenizer.from_pretrained(directory, use_fast=True)`` gives (tested on the shipped and the test models).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


class EncoderTokenizer:
    """Batched token ids of texts, special tokens added, optionally truncated.

    >>> tokenizer = EncoderTokenizer.from_dir("models/default")          # doctest: +SKIP
    >>> tokenizer(["query: яма на дороге"], truncation=True, max_length=128)["input_ids"]   # doctest: +SKIP
    [[0, ...]]
    """

    def __init__(self, backend: Any, pad_token_id: int | None = None, source: Path | None = None) -> None:
        self.backend = backend
        self.pad_token_id = pad_token_id
        self.source = source
        # a tokenizer.json may carry padding settings; ids are padded by the classifier, per batch
        self.backend.no_padding()
        self._truncation: int | None = -1  # what the backend is set to now (-1: unknown)

    @classmethod
    def from_dir(cls, directory: str | Path) -> "EncoderTokenizer":
        """The tokenizer of a model directory: ``tokenizer.json`` with the pad token named in
        ``tokenizer_config.json``. A directory with only a slow (sentencepiece/vocab) tokenizer is converted once by
        ``transformers`` (then imported)."""
        directory = Path(directory)
        config_file = directory / TOKENIZER_CONFIG_FILE
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.exists() else {}
        tokenizer_file = directory / TOKENIZER_FILE
        if tokenizer_file.exists():
            from tokenizers import Tokenizer

            backend = Tokenizer.from_file(str(tokenizer_file))
            pad = config.get("pad_token")
            pad_token = pad.get("content") if isinstance(pad, dict) else pad
            pad_id = backend.token_to_id(pad_token) if pad_token else None
            return cls(backend, pad_id, directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"tokenizer directory {directory} not found")
        from transformers import AutoTokenizer

        converted = AutoTokenizer.from_pretrained(str(directory), use_fast=True)
        return cls(converted.backend_tokenizer, converted.pad_token_id, directory)

    def __call__(self, texts: str | Sequence[str], truncation: bool = False, max_length: int | None = None,
                 add_special_tokens: bool = True) -> dict[str, Any]:
        """``{"input_ids": ...}`` for one text (a list of ids) or many (a list of lists), as a Hugging Face
        tokenizer returns them; ``truncation`` cuts each to ``max_length`` ids, special tokens included."""
        limit = max_length if truncation and max_length else None
        if truncation and limit is None:
            raise ValueError("truncation=True needs max_length")
        if limit != self._truncation:
            if limit is None:
                self.backend.no_truncation()
            else:
                self.backend.enable_truncation(limit)
            self._truncation = limit
        if isinstance(texts, str):
            return {"input_ids": self.backend.encode(texts, add_special_tokens=add_special_tokens).ids}
        encodings = self.backend.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encodings]}

    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``tokenizer.json`` (and the source's ``tokenizer_config.json``) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.backend.no_truncation()  # saved as loaded: truncation is a per-call setting
        self._truncation = None
        self.backend.save(str(directory / TOKENIZER_FILE))
        if self.source is not None and (self.source / TOKENIZER_CONFIG_FILE).exists():
            if (self.source / TOKENIZER_CONFIG_FILE).resolve() != (directory / TOKENIZER_CONFIG_FILE).resolve():
                shutil.copyfile(self.source / TOKENIZER_CONFIG_FILE, directory / TOKENIZER_CONFIG_FILE)
