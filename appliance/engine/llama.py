"""The local model: one class over llama-cpp-python's low-level API.

Why low level: the high-level ``Llama`` object decodes one sequence at a time. Data generation wants many samples
from the same or similar prompts, so a ``LocalModel`` keeps one llama.cpp context with many sequence slots
(``engine.context``) and decodes all sequences together, one token each per ``llama_decode`` call
(``engine.decoding``: continuous batching, and grouped decoding for self-debiasing; ``engine.scoring``:
log-likelihoods of many continuations).

Everything here takes and returns plain data (strings, numbers, arrays, dataclasses), so a pool of workers in other
processes or machines can serve the same interface (see ``engine.interface``).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import math
import threading
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

import llama_cpp as C

from appliance.engine import decoding
from appliance.engine.context import BatchContext, ContextError, DecodeStats
from appliance.engine.debias import DEFAULT_DECAY, DEFAULT_EPSILON, debias_combiner
from appliance.engine.interface import Completion, SamplingParams
from appliance.engine.threads import ThreadBudget
from appliance.errors import BadInput

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
    """A verified GGUF file loaded into llama.cpp, with sampling, batched generation, self-debiased generation and
    log-likelihoods.

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
        self.max_parallel = max(1, max_parallel)
        self.ctx_per_seq = ctx_per_seq
        self._lock = threading.Lock()
        self._context: BatchContext | None = None
        self._lora = None
        self._threads: ThreadBudget | None = ThreadBudget(n_threads)  # this process's share of the cores

        mparams = C.llama_model_default_params()
        mparams.n_gpu_layers = n_gpu_layers
        if cpu_has_amx():
            mparams.use_extra_bufts = False  # llama.cpp's AMX path segfaults (see cpu_has_amx)
        self._model = C.llama_model_load_from_file(str(self.path).encode(), mparams)
        if not self._model:
            self.close()
            raise BadInput(f"llama.cpp could not load model file {self.path}")
        self._vocab = C.llama_model_get_vocab(self._model)
        self.n_vocab = C.llama_vocab_n_tokens(self._vocab)
        self.n_params = int(C.llama_model_n_params(self._model))
        self.n_ctx_train = int(C.llama_model_n_ctx_train(self._model))
        try:
            self._context = BatchContext(self._model, n_seq=self.max_parallel, ctx_per_seq=ctx_per_seq,
                                         n_vocab=self.n_vocab, threads=self._threads, kv_unified=kv_unified)
        except ContextError:
            self.close()
            raise BadInput(f"llama.cpp could not create a context for {self.path} (too little memory?)") from None
        self._stats: DecodeStats = self._context.stats  # kept after close, for a benchmark's last look
        self.n_batch = self._context.n_batch
        self.n_ubatch = self._context.n_ubatch
        self.offloaded = n_gpu_layers != 0 and gpu_offload_supported()
        if lora_path is not None:
            self._lora = C.llama_adapter_lora_init(self._model, str(lora_path).encode())
            if not self._lora:
                self.close()
                raise BadInput(f"llama.cpp could not load LoRA adapter {lora_path}")
            self._context.set_lora((C.llama_adapter_lora_p_ctypes * 1)(self._lora), (ctypes.c_float * 1)(lora_scale))
        self.eog_ids: tuple[int, ...] = tuple(t for t in range(self.n_vocab) if C.llama_vocab_is_eog(self._vocab, t))
        self._piece_buf = ctypes.create_string_buffer(256)
        self._chat_template = C.llama_model_chat_template(self._model, None)

    @property
    def n_threads(self) -> int:
        """llama.cpp's thread count now (it follows the process's share of the cores; see ``engine.threads``)."""
        return self._threads.threads if self._threads is not None else 0

    @property
    def stats(self) -> DecodeStats:
        """A copy of the context's counters (decodes, time in llama_decode, tokens prefilled and sampled)."""
        return dataclasses.replace(self._stats)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if getattr(self, "_context", None) is not None:
            self._context.close()
            self._context = None
        if getattr(self, "_lora", None):
            C.llama_adapter_lora_free(self._lora)
            self._lora = None
        if getattr(self, "_model", None):
            C.llama_model_free(self._model)
            self._model = None
        if getattr(self, "_threads", None) is not None:
            self._threads.close()
            self._threads = None

    def __enter__(self) -> "LocalModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    @contextlib.contextmanager
    def _decoding(self) -> Iterator[None]:
        """The model's lock, and this process counted as decoding for the others' thread shares
        (``ThreadBudget.busy``): a loaded model takes no share of the cores while it waits."""
        with self._lock, (self._threads.busy() if self._threads is not None else contextlib.nullcontext()):
            yield

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

    def prompt_tokens(self, prompts: Sequence[str], max_new_tokens: int) -> dict[str, list[int]]:
        """Tokens of each distinct prompt (BOS included); a prompt that leaves no room for ``max_new_tokens`` in its
        slot is refused."""
        toks_of: dict[str, list[int]] = {}
        for text in prompts:
            if text not in toks_of:
                toks = self.tokenize(text, add_special=True)
                if len(toks) + max_new_tokens > self.ctx_per_seq:
                    raise BadInput(
                        f"prompt of {len(toks)} tokens + {max_new_tokens} new tokens exceeds the {self.ctx_per_seq}-token slot"
                    )
                toks_of[text] = toks
        return toks_of

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        *,
        on_token: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """One completion per prompt, decoded in parallel with continuous batching (``engine.decoding``); prompts
        that start alike share their cached prefix.

        Sequence ``i`` samples with seed ``params.seed + i``, so its output does not depend on the batch around it.
        ``on_token(n)`` gets the tokens produced per step.
        """
        prompts = list(prompts)
        with self._decoding():
            toks_of = self.prompt_tokens(prompts, params.max_new_tokens)
            return decoding.generate(self._context, self, prompts, toks_of, params, on_token)

    def generate_stream(self, prompts: Sequence[str], params: SamplingParams) -> Iterator[tuple[int, Completion]]:
        """``generate`` as it goes: ``(prompt index, completion)`` as each sequence ends, same seeds, same outputs.
        One call over many prompts keeps every slot busy to the end of the queue, where one call per small batch
        drains the slots at each batch's end. The model stays locked until the iterator is exhausted or closed:
        finish or close it before asking the model anything else."""
        prompts = list(prompts)
        with self._decoding():
            toks_of = self.prompt_tokens(prompts, params.max_new_tokens)
            yield from decoding.stream(self._context, self, prompts, toks_of, params, None)

    def complete(self, prompt: str, params: SamplingParams) -> Completion:
        """A single completion (the naive path, one sequence at a time)."""
        return self.generate([prompt], params)[0]

    def generate_debiased(
        self,
        groups: Sequence[Sequence[str]],
        params: SamplingParams,
        *,
        decay: float = DEFAULT_DECAY,
        epsilon: float = DEFAULT_EPSILON,
        on_token: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """One self-debiased completion per group (``engine.debias``): ``groups[i][0]`` is the prompt the text is
        written under, ``groups[i][1:]`` its counter prompts (the same number in every group). Group ``i`` samples
        with seed ``params.seed + i``; temperature, top-p, stop strings and token limits apply to the debiased
        distribution. All sequences of all groups in a wave share one ``llama_decode`` per step."""
        groups = [list(g) for g in groups]
        if not groups:
            return []
        size = len(groups[0])
        if size < 1 or any(len(g) != size for g in groups):
            raise BadInput("every self-debiasing group needs the same number of counter prompts")
        if size > self.max_parallel:
            raise BadInput(f"{size} parallel sequences per text exceed the model's {self.max_parallel} slots")
        with self._decoding():
            toks_of = self.prompt_tokens([t for g in groups for t in g], params.max_new_tokens)
            return decoding.generate_grouped(self._context, self, groups, toks_of, params,
                                             debias_combiner(decay, epsilon), on_token)

    # ------------------------------------------------------------------ scoring
    def next_token_logits_batch(self, prompts: Sequence[str]) -> np.ndarray:
        """The raw next-token logits after each prompt (BOS included), one (vocabulary,) row each, in one decode."""
        prompts = list(prompts)
        if len(prompts) > self.max_parallel:
            raise BadInput(f"at most {self.max_parallel} prompts at once")
        with self._decoding():
            return decoding.next_token_logits(self._context, prompts, self.prompt_tokens(prompts, 0))

    def next_token_logits(self, text: str) -> np.ndarray:
        """The raw next-token logits after ``text`` (no BOS; a copy). Used to check an adapter against its PyTorch twin."""
        toks = self.tokenize(text, add_special=False)
        if not toks or len(toks) > min(self.ctx_per_seq, self.n_batch):
            raise BadInput(f"text must be 1..{min(self.ctx_per_seq, self.n_batch)} tokens, not {len(toks)}")
        with self._decoding():
            ctx = self._context
            ctx.clear()
            for i, t in enumerate(toks):
                ctx.put(i, t, i, 0, i == len(toks) - 1)
            ctx.decode(len(toks))
            return ctx.logits_row(len(toks) - 1).copy()

    def loglik(self, prompt: str, continuation: str) -> float:
        """Sum of log p(continuation tokens | prompt, earlier continuation tokens)."""
        return self.loglik_tokens(prompt, continuation)[0]

    def loglik_tokens(self, prompt: str, continuation: str) -> tuple[float, list[float]]:
        """The total and per-token log-likelihood of ``continuation`` after ``prompt``."""
        ptoks = self.tokenize(prompt, add_special=True)
        ctoks = self.tokenize(continuation, add_special=False)
        if not ctoks:
            return 0.0, []
        toks = ptoks + ctoks
        if len(toks) > min(self.ctx_per_seq, self.n_batch):  # one sequence lives in one slot
            raise BadInput(f"text too long to score: {len(toks)} tokens")
        with self._decoding():
            ctx = self._context
            ctx.clear()
            first = len(ptoks) - 1
            for i, t in enumerate(toks[:-1]):
                ctx.put(i, t, i, 0, i >= first)
            ctx.decode(len(toks) - 1)
            lps = [log_softmax_at(ctx.logits_row(first + j), t) for j, t in enumerate(ctoks)]
        return float(sum(lps)), lps

    def score_tokens(
        self,
        requests: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]],
        on_scored: Callable[[int], None] | None = None,
    ) -> list[list[list[float]]]:
        """Per-token log-probabilities ``out[r][j][k]`` of continuation ``j`` of request ``r = (prefix, continuations)``
        (token ids; the prefix as tokenized, BOS included where the model has one). Each prefix is evaluated once,
        many requests per decode (``engine.scoring``). ``on_scored(n)`` gets the continuations finished as it goes."""
        from appliance.engine.scoring import score_tokens

        with self._decoding():
            return score_tokens(self._context, self, requests, on_scored)
