"""The multi-head network: a Hugging Face encoder, pooling, and one linear layer per head."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig

from cur_nlp.bert import mean_pool
from cur_nlp.model_dir import ENCODER_SUBDIR, WEIGHTS_FILE, ModelConfig, readable_by_all


def _skip_random_init():
    """transformers' ``no_init_weights`` (its location moved in transformers 5), or a no-op context."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:
        try:
            from transformers.modeling_utils import no_init_weights
        except ImportError:  # pragma: no cover - very old or very new transformers
            return nullcontext()
    return no_init_weights()


class HiddenStates(nn.Module):
    """A transformers encoder called as ``(input_ids, attention_mask) -> last hidden states``, the interface of
    :class:`cur_nlp.bert.BertEncoder`."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class MultiHeadModel(nn.Module):
    """Shared encoder + pooling + a linear classifier per head; ``forward`` returns logits per head."""

    def __init__(self, encoder: nn.Module, config: ModelConfig, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({h.name: nn.Linear(hidden, len(h.labels)) for h in config.heads})

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled sentence vectors, shape ``(batch, hidden)``."""
        output = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        hidden = output.last_hidden_state
        if self.config.pooling == "cls":
            return hidden[:, 0]
        return mean_pool(hidden, attention_mask)

    def classify(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of every head from pooled vectors."""
        pooled = self.dropout(pooled)
        return {name: head(pooled) for name, head in self.heads.items()}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.classify(self.embed(input_ids, attention_mask))

    @classmethod
    def from_encoder(cls, base_model: str, config: ModelConfig, dropout: float = 0.1) -> "MultiHeadModel":
        """New model with pre-trained encoder weights (local path or hub id) and freshly initialised heads."""
        try:
            encoder = AutoModel.from_pretrained(base_model, dtype=torch.float32, add_pooling_layer=False)
        except TypeError:  # architectures without a pooler (DistilBERT, ...) take no such argument
            encoder = AutoModel.from_pretrained(base_model, dtype=torch.float32)
        return cls(encoder, config, dropout)

    @classmethod
    def from_config(cls, encoder_config: PretrainedConfig, config: ModelConfig) -> "MultiHeadModel":
        """Model with random weights in the shape described by the configs (weights are loaded after)."""
        try:
            encoder = AutoModel.from_config(encoder_config, add_pooling_layer=False)
        except TypeError:
            encoder = AutoModel.from_config(encoder_config)
        return cls(encoder, config)

    @classmethod
    def load(cls, directory: str | Path, config: ModelConfig, encoder_dtype: torch.dtype = torch.float32) -> "MultiHeadModel":
        """Load a saved model directory (weights are stored in fp16): the encoder in ``encoder_dtype``, the heads in
        fp32. The stored tensors are copied straight into the parameters, so no second full-size copy is made."""
        from safetensors.torch import load_file

        directory = Path(directory)
        encoder_config = AutoConfig.from_pretrained(directory / ENCODER_SUBDIR)
        with _skip_random_init():  # every weight is overwritten below
            model = cls.from_config(encoder_config, config)
        if encoder_dtype != torch.float32:
            model.encoder.to(encoder_dtype)
        # load_state_dict copies each fp16 tensor into its parameter, converting the dtype on the way
        missing, unexpected = model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)), strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise ValueError(f"{directory}/{WEIGHTS_FILE} does not match the config: missing {missing[:5]}, unexpected {unexpected[:5]}")
        return model.eval()

    def save(self, directory: str | Path) -> None:
        """Write encoder config, fp16 weights and ``config.json`` to ``directory``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        (directory / ENCODER_SUBDIR).mkdir(parents=True, exist_ok=True)
        self.encoder.config.save_pretrained(directory / ENCODER_SUBDIR)
        state = {k: v.detach().to(torch.float16).contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
        readable_by_all(directory / WEIGHTS_FILE)
        self.config.save(directory)
