"""The forward pass of a decoder-only transformer in numpy, keeping every layer's states.

The same computation llama.cpp runs for Qwen2 and Llama models (RMSNorm before attention and
MLP, rotary positions, grouped-query causal attention with the Q, K, V biases Qwen2 has, a
gated SiLU MLP, residual connections), in float32 on the dequantized weights. For a prompt of
``n`` tokens it costs about ``2 x parameters x n`` FLOPs, as llama.cpp's prompt processing does.

>>> import numpy as np
>>> s = HiddenStates(last=np.zeros((3, 4), np.float32), mean=np.ones((3, 4), np.float32), tokens=5)
>>> s.layer(2, "mean").tolist()
[1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from octoroute.exceptions import ConfigError
from octoroute.features.hidden.weights import FloatArray, ModelWeights

__all__ = ["HiddenStates", "Pooling", "forward", "logits"]

Pooling = Literal["last", "mean"]


@dataclass(frozen=True)
class HiddenStates:
    """A prompt's states: row 0 the token embeddings, row ``i`` the output of layer ``i``."""

    last: FloatArray
    """The activation at the last prompt token, per layer: ``(n_layers + 1, width)``."""
    mean: FloatArray
    """The mean over the prompt's tokens, per layer: ``(n_layers + 1, width)``."""
    tokens: int

    def layer(self, index: int, pooling: Pooling) -> FloatArray:
        """One layer's vector under one pooling."""
        table = self.last if pooling == "last" else self.mean
        return np.asarray(table[index], dtype=np.float32)


def _rms_norm(x: FloatArray, weight: FloatArray, eps: float) -> FloatArray:
    scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    out: FloatArray = (x * scale * weight).astype(np.float32)
    return out


def _rope_tables(n: int, head_dim: int, base: float) -> tuple[FloatArray, FloatArray]:
    inv = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angles = np.outer(np.arange(n, dtype=np.float64), inv)  # (n, head_dim / 2)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def _rotate(x: FloatArray, cos: FloatArray, sin: FloatArray, layout: str) -> FloatArray:
    """Rotary positions on ``x`` of shape (heads, n, head_dim)."""
    if layout == "neox":  # the two halves of a head are the pairs
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
    a, b = x[..., 0::2], x[..., 1::2]  # interleaved pairs
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def _linear(x: FloatArray, w: ModelWeights, name: str) -> FloatArray:
    y = x @ w.tensors[f"{name}.weight"].T
    bias = w.get(f"{name}.bias")
    return y + bias if bias is not None else y


def _attention(x: FloatArray, w: ModelWeights, i: int, cos: Any, sin: Any) -> FloatArray:
    n = x.shape[0]
    p = f"blk.{i}.attn"
    q = _linear(x, w, f"{p}_q")
    k = _linear(x, w, f"{p}_k")
    v = _linear(x, w, f"{p}_v")
    head_dim = q.shape[1] // w.n_heads
    q = q.reshape(n, w.n_heads, head_dim).transpose(1, 0, 2)
    k = k.reshape(n, w.n_kv_heads, head_dim).transpose(1, 0, 2)
    v = v.reshape(n, w.n_kv_heads, head_dim).transpose(1, 0, 2)
    q, k = _rotate(q, cos, sin, w.rope), _rotate(k, cos, sin, w.rope)
    group = w.n_heads // w.n_kv_heads
    k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
    scores = (q @ k.transpose(0, 2, 1)) / np.sqrt(head_dim)
    scores += np.triu(np.full((n, n), -np.inf, dtype=np.float32), k=1)
    scores -= scores.max(axis=-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=-1, keepdims=True)
    out = (probs @ v).transpose(1, 0, 2).reshape(n, -1)
    return _linear(out.astype(np.float32), w, f"{p}_output")


def _mlp(x: FloatArray, w: ModelWeights, i: int) -> FloatArray:
    gate = _linear(x, w, f"blk.{i}.ffn_gate")
    up = _linear(x, w, f"blk.{i}.ffn_up")
    act = gate / (1.0 + np.exp(-gate)) * up
    return _linear(act.astype(np.float32), w, f"blk.{i}.ffn_down")


def forward(weights: ModelWeights, tokens: Sequence[int]) -> HiddenStates:
    """Run ``tokens`` through the model; every layer's last-token and mean activations.

    Raises ConfigError for an empty prompt or a token id outside the vocabulary.
    """
    ids = np.asarray(tokens, dtype=np.int64)
    embed = weights.tensors["token_embd.weight"]
    if ids.size == 0 or ids.min() < 0 or ids.max() >= embed.shape[0]:
        raise ConfigError("a prompt of token ids within the model's vocabulary is needed")
    x = embed[ids].astype(np.float32)
    head_dim = weights.tensors["blk.0.attn_q.weight"].shape[0] // weights.n_heads
    cos, sin = _rope_tables(len(ids), head_dim, weights.rope_base)
    last = [x[-1].copy()]
    mean = [x.mean(axis=0)]
    for i in range(weights.n_layers):
        h = _rms_norm(x, weights.tensors[f"blk.{i}.attn_norm.weight"], weights.eps)
        x = x + _attention(h, weights, i, cos, sin)
        h = _rms_norm(x, weights.tensors[f"blk.{i}.ffn_norm.weight"], weights.eps)
        x = x + _mlp(h, weights, i)
        last.append(x[-1].copy())
        mean.append(x.mean(axis=0))
    return HiddenStates(
        last=np.stack(last).astype(np.float32),
        mean=np.stack(mean).astype(np.float32),
        tokens=len(ids),
    )


def logits(weights: ModelWeights, states: HiddenStates) -> FloatArray:
    """The next-token logits after the prompt (the final norm and the output matrix): what a
    test compares with llama.cpp's own next token."""
    h = _rms_norm(states.last[-1], weights.tensors["output_norm.weight"], weights.eps)
    return (weights.tensors["output.weight"] @ h).astype(np.float32)
