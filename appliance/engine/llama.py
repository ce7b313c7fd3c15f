"""The local model: one class over llama-cpp-python's low-level API.

Why low level: the high-level ``Llama`` object decodes one sequence at a time. Data generation wants many samples
from the same or similar prompts, so this class keeps one llama.cpp context with many sequence slots, evaluates
each distinct prompt once, copies its KV cache to every sequence that shares it (``llama_memory_seq_cp``) and then
decodes all sequences together, one token each per ``llama_decode`` call, refilling a slot as soon as its sequence
ends (continuous batching). Sampling is exact nucleus sampling vectorized over the batch (``engine.sampling``).

Everything here takes and returns plain data (strings, numbers, dataclasses), so a pool of workers in other
processes or machines can serve the same interface (see ``engine.interface``).
"""

from __future__ import annotations

import ctypes
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import llama_cpp as C

from appliance.engine.interface import Completion, SamplingParams
from appliance.engine.sampling import BatchSampler
from appliance.engine.threads import ThreadBudget
from appliance.errors import UserError

_backend_lock = threading.Lock()
_backend_ready = False


def _init_backend() -> None:
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            C.llama_backend_init()
            # llama-cpp-python's own log callback: only llama.cpp's errors reach stderr. (A callback of our own
            # that dropped every message crashed model loading on a CUDA build.)
            from llama_cpp import _logger

            _logger.set_verbose(False)
            _backend_ready = True


def log_softmax_at(row: np.ndarray, token: int) -> float:
    """log p(token) under the softmax of one row of logits."""
    m = float(row.max())
    return float(row[token]) - m - math.log(float(np.exp(row - m).sum()))


def cpu_has_amx() -> bool:
    """True when the CPU advertises Intel AMX (Sapphire Rapids and later).

    llama.cpp repacks weights into an AMX buffer on such CPUs, and its AMX matrix multiply crashed the process with a
    segmentation fault on the first decode (seen on this project's 2-core build machine; ggml-org/llama.cpp#20824).
    ``LocalModel`` then loads without llama.cpp's extra buffer types; other CPUs keep them, so their outputs are unchanged.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            return any(line.startswith("flags") and " amx_int8" in line for line in f)
    except OSError:
        return False


def gpu_offload_supported() -> bool:
    """True when this llama.cpp build can offload layers to a GPU (a CUDA/Metal/Vulkan build)."""
    return bool(C.llama_supports_gpu_offload())


@dataclass
class _Seq:
    """One sequence slot during batched decoding."""

    slot: int
    prompt_len: int
    out: bytearray = field(default_factory=bytearray)
    tokens: list[int] = field(default_factory=list)
    logprob_sum: float = 0.0
    done: bool = False
    finish: str = "length"
    text: str = ""
    stop_string: str | None = None

    def accept(self, token: int, piece: bytes, end_of_generation: bool, p: SamplingParams) -> None:
        """Append a sampled token and decide whether the sequence is done (end of generation, stop string, limit)."""
        if end_of_generation:
            self.done, self.finish = True, "eos"
            return
        self.tokens.append(token)
        self.out += piece
        if p.stop:
            text = self.out.decode("utf-8", errors="ignore")
            hits = [(k, x) for x in p.stop if (k := text.find(x)) >= 0]
            if hits:
                cut, self.stop_string = min(hits)
                self.done, self.finish, self.text = True, "stop", text[:cut]
                return
        if len(self.tokens) >= p.max_new_tokens:
            self.done, self.finish = True, "length"

    def completion(self) -> Completion:
        n = len(self.tokens)
        return Completion(
            text=self.text if self.finish == "stop" else self.out.decode("utf-8", errors="ignore"),
            n_tokens=n,
            finish_reason=self.finish,
            mean_logprob=self.logprob_sum / max(1, n + (self.finish == "eos")),
            stop_string=self.stop_string,
        )


def tokenize_with(vocab, text: str, add_special: bool = False) -> list[int]:  # noqa: ANN001 (a llama_vocab pointer)
    """llama.cpp's token ids for ``text`` (special tokens parsed; BOS only with ``add_special``)."""
    data = text.encode("utf-8")
    cap = len(data) + 16
    buf = (C.llama_token * cap)()
    n = C.llama_tokenize(vocab, data, len(data), buf, cap, add_special, True)
    if n < 0:
        cap = -n
        buf = (C.llama_token * cap)()
        n = C.llama_tokenize(vocab, data, len(data), buf, cap, add_special, True)
    return list(buf[:n])


class LocalModel:
    """A verified GGUF file loaded into llama.cpp, with sampling, batched generation and log-likelihoods.

    ``n_gpu_layers`` is passed straight to llama.cpp: on a CUDA build, -1 offloads every layer; on a CPU build it
    has no effect. ``max_parallel`` is the number of sequence slots decoded together; ``ctx_per_seq`` bounds prompt
    plus completion length for each.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        instruct: bool = True,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        max_parallel: int = 32,
        ctx_per_seq: int = 512,
        lora_path: str | Path | None = None,
        lora_scale: float = 1.0,
        kv_unified: bool = False,
    ) -> None:
        _init_backend()
        self.path = Path(path)
        self.instruct = instruct
        self._threads = ThreadBudget(n_threads)  # this process's share of the cores, kept up to date in _decode
        self.n_threads = self._threads.threads
        self.max_parallel = max(1, max_parallel)
        self.ctx_per_seq = ctx_per_seq
        self._lock = threading.Lock()

        mparams = C.llama_model_default_params()
        mparams.n_gpu_layers = n_gpu_layers
        if cpu_has_amx():
            mparams.use_extra_bufts = False  # llama.cpp's AMX path segfaults (see cpu_has_amx)
        self._model = C.llama_model_load_from_file(str(self.path).encode(), mparams)
        if not self._model:
            self.close()
            raise UserError(f"llama.cpp could not load model file {self.path}")
        self._vocab = C.llama_model_get_vocab(self._model)
        self.n_vocab = C.llama_vocab_n_tokens(self._vocab)
        self.n_params = int(C.llama_model_n_params(self._model))
        self.n_ctx_train = int(C.llama_model_n_ctx_train(self._model))

        cparams = C.llama_context_default_params()
        cparams.n_seq_max = self.max_parallel
        cparams.n_ctx = self.max_parallel * ctx_per_seq
        cparams.n_batch = max(512, min(cparams.n_ctx, 4096))
        cparams.n_ubatch = 512
        cparams.n_threads = self.n_threads
        cparams.n_threads_batch = self.n_threads
        cparams.kv_unified = kv_unified
        cparams.no_perf = True
        self._ctx = C.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            self.close()
            raise UserError(f"llama.cpp could not create a context for {self.path} (too little memory?)")
        self._mem = C.llama_get_memory(self._ctx)
        self.n_batch = int(cparams.n_batch)
        self.n_ubatch = int(cparams.n_ubatch)
        self.offloaded = n_gpu_layers != 0 and gpu_offload_supported()
        self._batch = C.llama_batch_init(self.n_batch, 0, self.max_parallel)
        self._lora = None
        if lora_path is not None:
            self._lora = C.llama_adapter_lora_init(self._model, str(lora_path).encode())
            if not self._lora:
                self.close()
                raise UserError(f"llama.cpp could not load LoRA adapter {lora_path}")
            adapters = (C.llama_adapter_lora_p_ctypes * 1)(self._lora)
            scales = (ctypes.c_float * 1)(lora_scale)
            C.llama_set_adapters_lora(self._ctx, adapters, 1, scales)
        self._eog_ids = [t for t in range(self.n_vocab) if C.llama_vocab_is_eog(self._vocab, t)]
        self._eog_set = set(self._eog_ids)
        self._piece_buf = ctypes.create_string_buffer(256)
        self._chat_template = C.llama_model_chat_template(self._model, None)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if getattr(self, "_threads", None) is not None:
            self._threads.close()
            self._threads = None
        if getattr(self, "_batch", None) is not None:
            C.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            C.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_lora", None):
            C.llama_adapter_lora_free(self._lora)
            self._lora = None
        if getattr(self, "_model", None):
            C.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> "LocalModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ text <-> tokens
    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        return tokenize_with(self._vocab, text, add_special)

    def piece(self, token: int) -> bytes:
        n = C.llama_token_to_piece(self._vocab, token, self._piece_buf, 256, 0, False)
        if n < 0:
            big = ctypes.create_string_buffer(-n)
            n = C.llama_token_to_piece(self._vocab, token, big, -n, 0, False)
            return big.raw[:n]
        return self._piece_buf.raw[:n]

    def detokenize(self, tokens: Sequence[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", errors="ignore")

    def format_prompt(self, user: str, system: str | None = None, assistant_prefix: str = "") -> str:
        """A prompt in the model's own chat template (instruct models) or raw text (base models)."""
        if not self.instruct or not self._chat_template:
            return user + assistant_prefix
        msgs = ([("system", system)] if system else []) + [("user", user)]
        arr = (C.llama_chat_message * len(msgs))()
        keep = []
        for i, (role, content) in enumerate(msgs):
            r, c = role.encode(), content.encode("utf-8")
            keep += [r, c]
            arr[i].role, arr[i].content = r, c
        size = C.llama_chat_apply_template(self._chat_template, arr, len(msgs), True, None, 0)
        if size < 0:
            return user + assistant_prefix
        buf = ctypes.create_string_buffer(size + 1)
        C.llama_chat_apply_template(self._chat_template, arr, len(msgs), True, buf, size + 1)
        return buf.raw[:size].decode("utf-8") + assistant_prefix

    # ------------------------------------------------------------------ batch plumbing
    def logits_row(self, i: int) -> np.ndarray:
        """The logits of output row ``i`` of the last decode (a view into llama.cpp's buffer)."""
        return np.ctypeslib.as_array(C.llama_get_logits_ith(self._ctx, i), shape=(self.n_vocab,))

    def _batch_set(self, i: int, token: int, pos: int, seqs: Sequence[int], logits: bool) -> None:
        b = self._batch
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = len(seqs)
        for j, s in enumerate(seqs):
            b.seq_id[i][j] = s
        b.logits[i] = 1 if logits else 0

    def _decode(self, n_tokens: int) -> None:
        n = self._threads.poll()
        if n is not None:  # another model-heavy process started or ended: move to this process's new share
            C.llama_set_n_threads(self._ctx, n, n)
            self.n_threads = n
        self._batch.n_tokens = n_tokens
        rc = C.llama_decode(self._ctx, self._batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed with code {rc} (context full?)")

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        *,
        on_token: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """One completion per prompt, decoded in parallel with continuous batching.

        Up to ``max_parallel`` sequences decode together; when one finishes, its slot is cleared and the next
        prompt takes it, so short outputs never wait for long ones. Identical prompts that start together are
        evaluated once and their KV cache copied. Sequence ``i`` samples with seed ``params.seed + i``, so its
        output does not depend on the batch around it. ``on_token(n)`` gets the tokens produced per step.
        """
        with self._lock:
            return self._generate(list(prompts), params, on_token)

    def generate_n(self, prompt: str, n: int, params: SamplingParams, **kw: object) -> list[Completion]:
        """``n`` samples of one prompt."""
        return self.generate([prompt] * n, params, **kw)  # type: ignore[arg-type]

    def complete(self, prompt: str, params: SamplingParams) -> Completion:
        """A single completion (the naive path, one sequence at a time)."""
        return self.generate([prompt], params)[0]

    def _prefill_slots(self, prompt_of: dict[int, list[int]], copies: Sequence[tuple[int, int]] = ()) -> None:
        """Evaluate each slot's prompt tokens but the last (no logits), in as few decodes as fit a batch, then copy
        the cache of slot ``src`` to slot ``dst`` for each ``(src, dst)`` in ``copies``. The last token is left for
        the caller's first logits-producing step."""
        pending = [(tok, pos, slot) for slot, toks in prompt_of.items() for pos, tok in enumerate(toks[:-1])]
        while pending:
            chunk, pending = pending[: self.n_batch], pending[self.n_batch :]
            for i, (tok, pos, slot) in enumerate(chunk):
                self._batch_set(i, tok, pos, (slot,), False)
            self._decode(len(chunk))
        for src, dst in copies:
            if len(prompt_of[src]) > 1:
                C.llama_memory_seq_cp(self._mem, src, dst, -1, -1)

    def _prefill(self, prompts: list[tuple[int, str]], toks_of: dict[str, list[int]], slot_of: dict[int, int]) -> None:
        """Evaluate each distinct prompt once, into the first slot that uses it, and copy it to the others."""
        owner: dict[str, int] = {}
        for idx, text in prompts:
            owner.setdefault(text, slot_of[idx])
        copies = [(owner[text], slot_of[idx]) for idx, text in prompts if owner[text] != slot_of[idx]]
        self._prefill_slots({slot: toks_of[text] for text, slot in owner.items()}, copies)

    def _tokenize_prompts(self, prompts: Sequence[str], max_new_tokens: int) -> dict[str, list[int]]:
        """Tokens of each distinct prompt; a prompt that leaves no room for ``max_new_tokens`` in its slot is refused."""
        toks_of: dict[str, list[int]] = {}
        for text in prompts:
            if text not in toks_of:
                toks = self.tokenize(text, add_special=True)
                if len(toks) + max_new_tokens > self.ctx_per_seq:
                    raise UserError(
                        f"prompt of {len(toks)} tokens + {max_new_tokens} new tokens exceeds the {self.ctx_per_seq}-token slot"
                    )
                toks_of[text] = toks
        return toks_of

    def _generate(self, prompts: list[str], p: SamplingParams, on_token) -> list[Completion]:
        C.llama_memory_clear(self._mem, True)
        toks_of = self._tokenize_prompts(prompts, p.max_new_tokens)
        sampler = BatchSampler(p, [p.seed + i for i in range(len(prompts))], self._eog_ids)
        queue = list(range(len(prompts)))[::-1]  # pop() takes the lowest index first
        free = list(range(self.max_parallel))[::-1]
        running: dict[int, _Seq] = {}  # slot -> sequence
        index_of: dict[int, int] = {}  # slot -> prompt index
        next_tok: dict[int, int] = {}
        step_of: dict[int, int] = {}
        results: list[Completion | None] = [None] * len(prompts)
        while queue or running:
            if queue and free:
                new: list[tuple[int, str]] = []
                slot_of: dict[int, int] = {}
                while queue and free:
                    idx, slot = queue.pop(), free.pop()
                    text = prompts[idx]
                    new.append((idx, text))
                    slot_of[idx] = slot
                    running[slot] = _Seq(slot=slot, prompt_len=len(toks_of[text]))
                    index_of[slot], next_tok[slot], step_of[slot] = idx, toks_of[text][-1], 0
                self._prefill(new, toks_of, slot_of)
            active = list(running.values())
            for i, s in enumerate(active):
                self._batch_set(i, next_tok[s.slot], s.prompt_len - 1 + step_of[s.slot], (s.slot,), True)
            self._decode(len(active))
            logits = np.ctypeslib.as_array(C.llama_get_logits(self._ctx), shape=(len(active), self.n_vocab))
            rows = [index_of[s.slot] for s in active]
            tokens, lps = sampler.sample(logits, rows, [step_of[s.slot] for s in active])
            for s, tok, lp in zip(active, tokens.tolist(), lps.tolist()):
                s.logprob_sum += lp
                step_of[s.slot] += 1
                eog = tok in self._eog_set
                s.accept(tok, b"" if eog else self.piece(tok), eog, p)
                next_tok[s.slot] = tok
                if s.done:
                    results[index_of[s.slot]] = s.completion()
                    C.llama_memory_seq_rm(self._mem, s.slot, -1, -1)
                    del running[s.slot]
                    free.append(s.slot)
            if on_token is not None:
                on_token(len(active))
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ scoring
    def loglik(self, prompt: str, continuation: str) -> float:
        """Sum of log p(continuation tokens | prompt, earlier continuation tokens)."""
        return self.loglik_tokens(prompt, continuation)[0]

    def next_token_logits(self, text: str) -> np.ndarray:
        """The raw next-token logits after ``text`` (a copy). Used to check an adapter against its PyTorch twin."""
        toks = self.tokenize(text, add_special=False)
        if not toks or len(toks) > min(self.ctx_per_seq, self.n_batch):
            raise UserError(f"text must be 1..{min(self.ctx_per_seq, self.n_batch)} tokens, not {len(toks)}")
        with self._lock:
            C.llama_memory_clear(self._mem, True)
            for i, t in enumerate(toks):
                self._batch_set(i, t, i, (0,), i == len(toks) - 1)
            self._decode(len(toks))
            return self.logits_row(len(toks) - 1).copy()

    def score_tokens(
        self,
        requests: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]],
        on_scored: Callable[[int], None] | None = None,
    ) -> list[list[list[float]]]:
        """Per-token log-probabilities ``out[r][j][k]`` of continuation ``j`` of request ``r = (prefix, continuations)``
        (token ids; the prefix as tokenized, BOS included where the model has one). Each prefix is evaluated once,
        many requests per decode (``engine.scoring``). ``on_scored(n)`` gets the continuations finished as it goes."""
        from appliance.engine.scoring import score_tokens

        with self._lock:
            return score_tokens(self, requests, on_scored)

    def loglik_tokens(self, prompt: str, continuation: str) -> tuple[float, list[float]]:
        """The total and per-token log-likelihood of ``continuation`` after ``prompt``."""
        ptoks = self.tokenize(prompt, add_special=True)
        ctoks = self.tokenize(continuation, add_special=False)
        if not ctoks:
            return 0.0, []
        toks = ptoks + ctoks
        if len(toks) > min(self.ctx_per_seq, self.n_batch):  # one sequence lives in one slot
            raise UserError(f"text too long to score: {len(toks)} tokens")
        with self._lock:
            C.llama_memory_clear(self._mem, True)
            first = len(ptoks) - 1
            for i, t in enumerate(toks[:-1]):
                self._batch_set(i, t, i, (0,), i >= first)
            self._decode(len(toks) - 1)
            lps = [log_softmax_at(self.logits_row(first + j), t) for j, t in enumerate(ctoks)]
        return float(sum(lps)), lps
