"""A compact inference-only BERT encoder on plain torch modules, for the ``torch-bf16`` backend.

Importing transformers' modelling code costs 1.8 s of a 3.3 s cold start on two cores (``docs/speed.md``), most of
it modules a BERT forward pass never runs (distributed tensors, the compiler, object-detection losses). This module
builds the same network from torch operations and the model directory's ``encoder/config.json`` and
``model.safetensors``, so a bf16 classifier starts with torch alone.

It covers exactly what :func:`supports` accepts: post-LayerNorm BERT encoders (``model_type`` ``bert``, such as the
shipped e5-small) with exact GELU and absolute positions. Anything else is loaded through
transformers as before. transformers' ``BertModel`` stays the reference: fp32 vectors from both are equal (max
difference 0.0 on dev posts, ``tests/test_bert.py``), and ``cur-nlp export-onnx`` checks this bf16 encoder against the
transformers fp32 model before ``auto`` may pick it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED = {"model_type": ("bert",), "hidden_act": ("gelu",), "position_embedding_type": ("absolute", None)}
"""Encoder config values this implementation reproduces exactly; other configs go through transformers."""
REQUIRED = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "layer_norm_eps",
            "vocab_size", "max_position_embeddings")
"""Encoder config entries the network is built from; a config without them goes through transformers."""
STATE_PREFIX = "encoder."
"""Prefix of the encoder's tensors in ``model.safetensors`` (``MultiHeadModel.encoder``)."""


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average token vectors over the non-padding positions."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def supports(encoder_config: Mapping[str, Any]) -> bool:
    """Whether :class:`BertEncoder` computes exactly what transformers computes for this ``encoder/config.json``."""
    if encoder_config.get("is_decoder") or encoder_config.get("add_cross_attention"):
        return False
    if any(encoder_config.get(key) is None for key in REQUIRED):
        return False
    return all(encoder_config.get(key) in values for key, values in SUPPORTED.items())


def _frozen(tensor: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(tensor, requires_grad=False)


class BertLayer(nn.Module):
    """One post-LayerNorm transformer layer: self-attention (query, key and value in one matmul, PyTorch's
    ``scaled_dot_product_attention``), then the GELU feed-forward block, each with a residual and LayerNorm.

    Built from its tensors (``LAYER_TENSORS`` names, ``weight``/``bias`` each), so no random initialisation runs.
    """

    def __init__(self, tensors: Mapping[str, torch.Tensor], heads: int, eps: float) -> None:
        super().__init__()
        self.heads, self.eps = heads, eps
        for name, tensor in tensors.items():
            self.register_parameter(name, _frozen(tensor))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``x`` ``(batch, seq, hidden)``; ``keep`` bool ``(batch, 1, 1, seq)``, True where a key may be attended."""
        batch, seq, hidden = x.shape
        qkv = F.linear(x, self.qkv_weight, self.qkv_bias)
        q, k, v = qkv.view(batch, seq, 3, self.heads, hidden // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(batch, seq, hidden)
        x = F.layer_norm(x + F.linear(attended, self.attention_out_weight, self.attention_out_bias), (hidden,),
                         self.attention_norm_weight, self.attention_norm_bias, self.eps)
        inner = F.gelu(F.linear(x, self.ffn_in_weight, self.ffn_in_bias))
        return F.layer_norm(x + F.linear(inner, self.ffn_out_weight, self.ffn_out_bias), (hidden,),
                            self.ffn_norm_weight, self.ffn_norm_bias, self.eps)


LAYER_TENSORS = {"attention_out": "attention.output.dense", "attention_norm": "attention.output.LayerNorm",
                 "ffn_in": "intermediate.dense", "ffn_out": "output.dense", "ffn_norm": "output.LayerNorm"}
"""Our name of each layer tensor (besides the fused ``qkv``) -> its name in transformers' ``BertLayer``."""


class BertEncoder(nn.Module):
    """Embeddings (word + absolute position + token type 0, LayerNorm) and the layers; ``forward`` returns the last
    hidden states, like ``BertModel(...).last_hidden_state``. Build it with :meth:`from_state` or
    :meth:`from_model_dir`."""

    def __init__(self, config: Mapping[str, Any], embeddings: Mapping[str, torch.Tensor], layers: list[BertLayer]) -> None:
        super().__init__()
        self.eps = config["layer_norm_eps"]
        for name, tensor in embeddings.items():
            self.register_parameter(name, _frozen(tensor))
        self.layers = nn.ModuleList(layers)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states ``(batch, seq, hidden)`` of padded ``input_ids``; padding positions are masked out
        as keys (their own outputs are meaningless, as in transformers)."""
        seq = input_ids.shape[1]
        x = F.embedding(input_ids, self.word_embeddings) + self.position_embeddings[:seq] + self.token_type_embeddings[0]
        x = F.layer_norm(x, x.shape[-1:], self.embedding_norm_weight, self.embedding_norm_bias, self.eps)
        keep = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, keep)
        return x

    @classmethod
    def from_state(cls, config: Mapping[str, Any], state: Mapping[str, torch.Tensor], dtype: torch.dtype,
                   prefix: str = STATE_PREFIX) -> "BertEncoder":
        """Encoder in ``dtype`` from a transformers ``BertModel`` state dict (keys under ``prefix``), as saved by
        ``MultiHeadModel.save``. Raises ``ValueError`` for an unsupported config or a missing tensor."""
        if not supports(config):
            raise ValueError(f"cur_nlp.bert reproduces BERT encoders only ({SUPPORTED}); this config has "
                             f"{ {k: config.get(k) for k in SUPPORTED} }: load it through transformers")

        def get(name: str) -> torch.Tensor:
            try:
                return state[prefix + name].to(dtype)
            except KeyError:
                raise ValueError(f"weights have no tensor {prefix + name!r}: not a BERT encoder saved by cur_nlp") from None

        embeddings = {
            "word_embeddings": get("embeddings.word_embeddings.weight"),
            "position_embeddings": get("embeddings.position_embeddings.weight"),
            "token_type_embeddings": get("embeddings.token_type_embeddings.weight"),
            "embedding_norm_weight": get("embeddings.LayerNorm.weight"),
            "embedding_norm_bias": get("embeddings.LayerNorm.bias"),
        }
        layers = []
        for i in range(config["num_hidden_layers"]):
            source = f"encoder.layer.{i}."
            tensors = {}
            for kind in ("weight", "bias"):
                tensors[f"qkv_{kind}"] = torch.cat(
                    [get(f"{source}attention.self.{name}.{kind}") for name in ("query", "key", "value")])
                for ours, theirs in LAYER_TENSORS.items():
                    tensors[f"{ours}_{kind}"] = get(f"{source}{theirs}.{kind}")
            layers.append(BertLayer(tensors, config["num_attention_heads"], config["layer_norm_eps"]))
        return cls(config, embeddings, layers).eval()

    @classmethod
    def from_model_dir(cls, directory: str | Path, dtype: torch.dtype = torch.bfloat16) -> "BertEncoder":
        """The encoder of a cur_nlp model directory (``encoder/config.json`` + ``model.safetensors``) in ``dtype``."""
        from safetensors.torch import load_file

        from cur_nlp.model_dir import WEIGHTS_FILE

        directory = Path(directory)
        return cls.from_state(read_encoder_config(directory), load_file(str(directory / WEIGHTS_FILE)), dtype)


def read_encoder_config(directory: str | Path) -> dict[str, Any]:
    """``encoder/config.json`` of a model directory, as a plain dict (no transformers import)."""
    from cur_nlp.model_dir import ENCODER_SUBDIR

    return json.loads((Path(directory) / ENCODER_SUBDIR / "config.json").read_text(encoding="utf-8"))
