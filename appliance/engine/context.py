"""One llama.cpp context and its token batch: the primitives every decoding loop of the engine is built from.

``LocalModel`` owns one ``BatchContext`` and calls it only while holding its lock; the loops in
``engine.decoding`` and ``engine.scoring`` receive it as an argument. Keeping the raw llama.cpp handles (context,
batch, KV memory) inside this one class means no other module touches them, and a decoding loop reads as a list
of plain steps: put tokens in the batch, decode, read logits, copy or drop a sequence's cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

import llama_cpp as C

from appliance.engine.threads import ThreadBudget


class ContextError(RuntimeError):
    """llama.cpp refused a decode (for example a full context)."""


@dataclass
class DecodeStats:
    """What a context has done since it was made: for benchmarks and profiling (plain numbers, cheap to keep)."""

    decodes: int = 0  # llama_decode calls
    decode_s: float = 0.0  # seconds inside llama_decode
    evaluated: int = 0  # tokens evaluated (every batch entry)
    prefilled: int = 0  # prompt tokens evaluated ahead of sampling (``prefill``)
    prefill_s: float = 0.0  # of ``decode_s``, the seconds spent on them
    sampled: int = 0  # tokens sampled by the decoding loops
    sample_s: float = 0.0  # seconds the decoding loops spent sampling them
    steps: int = 0  # sampling steps (sampled / steps: how many sequences a step decoded on average)


class BatchContext:
    """A llama.cpp context with ``n_seq`` sequence slots of ``ctx_per_seq`` tokens each, and its batch buffer.

    ``threads`` is the process's thread budget: before each decode the context moves llama.cpp to the current
    share of the cores (see ``engine.threads``). Not thread-safe; the owning model serializes calls.
    """

    def __init__(self, model, *, n_seq: int, ctx_per_seq: int, n_vocab: int, threads: ThreadBudget,  # noqa: ANN001
                 kv_unified: bool = False) -> None:
        params = C.llama_context_default_params()
        params.n_seq_max = n_seq
        params.n_ctx = n_seq * ctx_per_seq
        params.n_batch = max(512, min(params.n_ctx, 4096))
        params.n_ubatch = 512
        params.n_threads = threads.threads
        params.n_threads_batch = threads.threads
        params.kv_unified = kv_unified
        params.no_perf = True
        self.n_seq = n_seq
        self.n_vocab = n_vocab
        self.n_batch = int(params.n_batch)
        self.n_ubatch = int(params.n_ubatch)
        self.threads = threads
        self.stats = DecodeStats()
        self._batch = None
        self._ctx = C.llama_init_from_model(model, params)
        if not self._ctx:
            raise ContextError("llama.cpp could not create a context")
        self._mem = C.llama_get_memory(self._ctx)
        self._batch = C.llama_batch_init(self.n_batch, 0, n_seq)

    def close(self) -> None:
        if self._batch is not None:
            C.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx:
            C.llama_free(self._ctx)
            self._ctx = None

    def set_lora(self, adapters, scales) -> None:  # noqa: ANN001 (ctypes arrays)
        C.llama_set_adapters_lora(self._ctx, adapters, len(scales), scales)

    # ------------------------------------------------------------------ the batch
    def put(self, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        """Batch entry ``i``: ``token`` at position ``pos`` of sequence ``seq``; ``logits`` asks for its output row."""
        b = self._batch
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq
        b.logits[i] = 1 if logits else 0

    def decode(self, n_tokens: int) -> None:
        """Evaluate the first ``n_tokens`` batch entries (at the thread budget's current share)."""
        n = self.threads.poll()
        if n is not None:  # another model-heavy process started or ended: move to this process's new share
            C.llama_set_n_threads(self._ctx, n, n)
        self._batch.n_tokens = n_tokens
        t = time.perf_counter()
        rc = C.llama_decode(self._ctx, self._batch)
        self.stats.decode_s += time.perf_counter() - t
        self.stats.decodes += 1
        self.stats.evaluated += n_tokens
        if rc != 0:
            raise ContextError(f"llama_decode failed with code {rc} (context full?)")

    def logits(self, n_rows: int) -> np.ndarray:
        """The (n_rows, vocabulary) logits of the last decode, one row per entry that asked for them, in batch order
        (a view into llama.cpp's buffer, valid until the next decode)."""
        return np.ctypeslib.as_array(C.llama_get_logits(self._ctx), shape=(n_rows, self.n_vocab))

    def logits_row(self, i: int) -> np.ndarray:
        """The logits of output row ``i`` of the last decode (a view)."""
        return np.ctypeslib.as_array(C.llama_get_logits_ith(self._ctx, i), shape=(self.n_vocab,))

    # ------------------------------------------------------------------ the KV cache
    def clear(self) -> None:
        """Forget every sequence."""
        C.llama_memory_clear(self._mem, True)

    def copy_seq(self, src: int, dst: int) -> None:
        """Share sequence ``src``'s cache with sequence ``dst``."""
        C.llama_memory_seq_cp(self._mem, src, dst, -1, -1)

    def drop_seq(self, seq: int, from_pos: int = -1) -> None:
        """Forget sequence ``seq`` (from position ``from_pos`` on; -1: all of it)."""
        C.llama_memory_seq_rm(self._mem, seq, from_pos, -1)

    def prefill(self, spans: Sequence[tuple[int, int, Sequence[int]]]) -> None:
        """Evaluate, without logits, each span ``(seq, start, tokens)``: ``tokens`` at positions ``start`` on of
        sequence ``seq``; all spans together in as few decodes as fit a batch."""
        spans = sorted(spans, key=lambda span: span[0])  # sequences in id order: see ``decoding.compact_slots``
        pending = [(tok, start + k, seq) for seq, start, toks in spans for k, tok in enumerate(toks)]
        while pending:
            chunk, pending = pending[: self.n_batch], pending[self.n_batch :]
            for i, (tok, pos, seq) in enumerate(chunk):
                self.put(i, tok, pos, seq, False)
            t = self.stats.decode_s
            self.decode(len(chunk))
            self.stats.prefill_s += self.stats.decode_s - t
            self.stats.prefilled += len(chunk)
