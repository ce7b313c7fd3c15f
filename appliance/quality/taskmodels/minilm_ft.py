"""all-MiniLM-L6-v2 fine-tuned end to end as a classifier: the embedded sentence encoder, mean pooling and a linear
head, trained together with AdamW on the (optionally SunGen-weighted) label-smoothed cross-entropy.

ZeroGen's task model was a fine-tuned DistilBERT; this is the same idea with the encoder the appliance already ships
(setfit's contrastive stage is not installed, and offline a plain fine-tune is what is available). It learns more
from the same records than a model over frozen embeddings (``mlp``), but takes minutes on CPU where those take
seconds, so ``appliance evaluate`` trains it only when named (``default=False``); it reports its epochs.

Offline and in memory: the weights are read from the embedder's folder after ``embed.verified_model_dir`` has checked
every file against its sha256 pin (an altered file is refused before any training), with the Hugging Face libraries
switched offline; the fine-tuned copy lives in memory only (no checkpoint, no cache). ``minilm_ft`` trains on the
records as they are, ``minilm_ft_sungen`` weighs each record's loss by SunGen's learned weight.
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from appliance.errors import BadInput
from appliance.progress import Report, silent
from appliance.quality.embed import _threads
from appliance.quality.taskmodels import TASK_MODELS, TaskModel
from appliance.quality.taskmodels.mlp import LABEL_SMOOTHING, smoothed_cross_entropy

if TYPE_CHECKING:
    import torch

_lock = threading.Lock()
_pretrained: "tuple[Any, Any] | None" = None  # (tokenizer, encoder): read and checked once per process


def pretrained() -> "tuple[Any, Any]":
    """The embedder's tokenizer and its untrained encoder (a ``transformers`` BertModel), loaded once per process
    from the sha256-checked folder; callers fine-tune a copy of the encoder, never this one."""
    global _pretrained
    with _lock:
        if _pretrained is None:
            from appliance.quality.embed import quiet_transformers, verified_model_dir

            root = verified_model_dir()  # before transformers is imported: offline, files as pinned
            from transformers import AutoModel, AutoTokenizer

            quiet_transformers()
            _pretrained = (AutoTokenizer.from_pretrained(str(root), local_files_only=True),
                           AutoModel.from_pretrained(str(root), local_files_only=True))
        return _pretrained


def mean_pool(hidden: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """The mean of the token vectors, padding left out (how all-MiniLM-L6-v2 makes its sentence vector)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp_min(1e-9)


class MiniLMFineTune:
    """Texts → MiniLM encoder → mean pooling → Dropout → Linear(384, K), every weight trained.

    ``lr`` is the encoder's learning rate, ``head_lr`` the new head's (it starts from random weights, so it learns
    faster); both decay linearly to zero over the run. ``max_length`` caps the tokens read per text (the cost)."""

    def __init__(self, classes: Sequence[str], *, name: str = "minilm_ft", epochs: int = 4, lr: float = 5e-5, head_lr: float = 1e-3,
                 weight_decay: float = 0.01, batch_size: int = 16, max_length: int = 128, dropout: float = 0.1,
                 label_smoothing: float = LABEL_SMOOTHING, seed: int = 0) -> None:
        self.classes, self.name = list(classes), name  # the name its progress reports use
        self.epochs, self.lr, self.head_lr, self.wd = epochs, lr, head_lr, weight_decay
        self.batch_size, self.max_length, self.dropout = batch_size, max_length, dropout
        self.eps, self.seed = label_smoothing, seed
        self.tokenizer: Any = None
        self.encoder: Any = None
        self.head: torch.nn.Module | None = None

    def _tokens(self, texts: Sequence[str]) -> dict[str, "torch.Tensor"]:
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt")

    def _logits(self, batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        assert self.head is not None
        out = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           token_type_ids=batch.get("token_type_ids"))
        return self.head(mean_pool(out.last_hidden_state, batch["attention_mask"]))

    def fit(self, texts: Sequence[str], labels: Sequence[str], sample_weight: Sequence[float] | None = None,
            progress: Report | None = None) -> "MiniLMFineTune":
        import torch

        say = progress or silent
        texts = list(texts)
        unknown = sorted({str(lab) for lab in labels} - set(self.classes))
        if unknown or not texts:  # a label edited in the database, or nothing to learn from: one line, no traceback
            raise BadInput(f"{self.name}: label {unknown[0][:40]!r} is not one of the task's labels" if unknown
                           else f"{self.name}: no records to train on")
        tokenizer, base = pretrained()  # an altered model file stops here, before any training
        torch.set_num_threads(_threads())
        torch.manual_seed(self.seed)
        g = torch.Generator().manual_seed(self.seed)
        texts = list(texts)
        y = torch.as_tensor([self.classes.index(lab) for lab in labels])
        w = torch.ones(len(y)) if sample_weight is None else torch.as_tensor(np.asarray(sample_weight), dtype=torch.float32)
        self.tokenizer, self.encoder = tokenizer, copy.deepcopy(base)
        self.head = torch.nn.Sequential(torch.nn.Dropout(self.dropout),
                                        torch.nn.Linear(self.encoder.config.hidden_size, len(self.classes)))
        opt = torch.optim.AdamW([{"params": self.encoder.parameters(), "lr": self.lr},
                                 {"params": self.head.parameters(), "lr": self.head_lr}], weight_decay=self.wd)
        steps = self.epochs * -(-len(y) // self.batch_size)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: max(0.0, 1 - step / steps))
        self.encoder.train()
        self.head.train()
        step_name = f"fine-tuning {self.name}: epochs"
        say(step_name, 0, self.epochs)
        for epoch in range(self.epochs):
            perm = torch.randperm(len(y), generator=g)
            for s in range(0, len(y), self.batch_size):
                idx = perm[s : s + self.batch_size]
                loss = smoothed_cross_entropy(self._logits(self._tokens([texts[i] for i in idx])), y[idx], self.eps)
                loss = (loss * w[idx]).sum() / w[idx].sum().clamp_min(1e-8)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            say(step_name, epoch + 1, self.epochs)
        self.encoder.eval()
        self.head.eval()
        return self

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        assert self.head is not None, "fit first"
        texts = list(texts)
        out = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        with torch.no_grad():
            for s in range(0, len(texts), batch_size):
                out[s : s + batch_size] = F.softmax(self._logits(self._tokens(texts[s : s + batch_size])), dim=-1).numpy()
        return out

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(texts).argmax(axis=1)]


def _maker(name: str) -> Callable[[Sequence[str], int], MiniLMFineTune]:
    return lambda classes, seed: MiniLMFineTune(classes, name=name, seed=seed)


TASK_MODELS.register(TaskModel("minilm_ft", f"MiniLM fine-tuned end to end, label smoothing {LABEL_SMOOTHING} (slow: "
                               "trained only when named)", _maker("minilm_ft"), rank=30, default=False, epoch_progress=True))
TASK_MODELS.register(TaskModel("minilm_ft_sungen", "MiniLM fine-tuned end to end on SunGen-weighted records (slow: "
                               "trained only when named)", _maker("minilm_ft_sungen"), weighted=True, rank=31, default=False,
                               epoch_progress=True))
