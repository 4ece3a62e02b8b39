"""The classification heads in numpy: one linear layer per head over the pooled encoder vector.

They are a few kilobytes of weights; running them in numpy keeps torch out of every step after the encoder, so a
classifier on an ONNX backend never imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from cur_nlp.model_dir import ModelConfig


class LinearHeads:
    """``logits[head] = vectors @ weight[head].T + bias[head]`` for every head, in fp32."""

    def __init__(self, weights: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        if not weights:
            raise ValueError("a model needs at least one head")
        self.weights = {name: (np.ascontiguousarray(w, dtype=np.float32), np.asarray(b, dtype=np.float32))
                        for name, (w, b) in weights.items()}
        sizes = {w.shape[1] for w, _ in self.weights.values()}
        if len(sizes) != 1:
            raise ValueError(f"heads read vectors of different sizes: {sorted(sizes)}")
        self.hidden_size = sizes.pop()

    @classmethod
    def load(cls, directory: str | Path, config: "ModelConfig") -> "LinearHeads":
        """The heads named in ``config`` from the directory's ``model.safetensors`` (no torch needed)."""
        from safetensors import safe_open

        from cur_nlp.model_dir import WEIGHTS_FILE

        path = Path(directory) / WEIGHTS_FILE
        with safe_open(str(path), framework="np") as stored:
            names = set(stored.keys())
            missing = [f"heads.{h.name}.{p}" for h in config.heads for p in ("weight", "bias")
                       if f"heads.{h.name}.{p}" not in names]
            if missing:
                raise ValueError(f"{path} does not match the config: missing {missing[:5]}")
            return cls({h.name: (stored.get_tensor(f"heads.{h.name}.weight"), stored.get_tensor(f"heads.{h.name}.bias"))
                        for h in config.heads})

    @classmethod
    def from_model(cls, model: Any) -> "LinearHeads":
        """The heads of an in-memory :class:`~cur_nlp.encoder.MultiHeadModel` (a copy of its current weights)."""
        return cls({name: (head.weight.detach().float().cpu().numpy(), head.bias.detach().float().cpu().numpy())
                    for name, head in model.heads.items()})

    def logits(self, vectors: np.ndarray) -> dict[str, np.ndarray]:
        """Logits per head for pooled vectors ``(n, hidden)``."""
        vectors = np.asarray(vectors, dtype=np.float32)
        return {name: vectors @ w.T + b for name, (w, b) in self.weights.items()}
