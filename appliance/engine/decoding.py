"""The engine's decoding loops over a ``BatchContext``: continuous batching and grouped (self-debiasing) decoding.

Both loops evaluate each distinct prompt once and copy its KV cache to every slot that shares it
(``llama_memory_seq_cp``), then decode all running sequences together, one token each per ``llama_decode`` call.
Sampling is exact nucleus sampling vectorized over the batch (``engine.sampling``); sequence ``i`` draws from its
own generator seeded ``params.seed + i``, so its output does not depend on the batch around it.

``LocalModel`` calls these with its lock held; they take the model only for its public text helpers
(``piece``, ``eog_ids``).
"""

from __future__ import annotations

import heapq
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from appliance.engine.context import BatchContext
from appliance.engine.interface import Completion, SamplingParams
from appliance.engine.sampling import BatchSampler

if TYPE_CHECKING:
    from appliance.engine.llama import LocalModel

# Grouped decoding's hook: the logits of every sequence of every running group, (groups, group size, vocabulary),
# to the (groups, vocabulary) log-weights the group's next token is sampled from.
GroupLogits = Callable[[np.ndarray], np.ndarray]


@dataclass
class SeqState:
    """One sequence being decoded: its sampled tokens and text so far and why it ended."""

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


# A common prefix shorter than this is evaluated again rather than copied (a copy moves a sequence's whole cache,
# a few megabytes for a small model: cheaper than evaluating even 8 tokens on a CPU).
SHARE_MIN_TOKENS = 8


def prefill_prompts(ctx: BatchContext, prompts: Sequence[tuple[int, str]], toks_of: dict[str, list[int]],
                    slot_of: dict[int, int], cached: dict[int, list[int]] | None = None) -> None:
    """Evaluate all prompt tokens but the last (left for the first sampling step) of each ``(index, text)`` into
    its slot (``slot_of[index]``), evaluating as little as possible:

    - a text shared by several prompts is evaluated once, in its first slot, and that cache copied to the others;
    - a text that shares at least ``SHARE_MIN_TOKENS`` leading tokens with a running slot (``cached``: slot -> the
      tokens in its cache) or with another new text gets a copy of that cache up to the common prefix and
      evaluates only the rest (chat templates and instructions repeat the same prefix in every prompt).
    """
    cached = cached or {}
    owner: dict[str, int] = {}
    for idx, text in prompts:
        owner.setdefault(text, slot_of[idx])
    known = dict(cached)  # slot -> tokens its cache will hold once the first decode round is done
    first: list[tuple[int, int, list[int]]] = []  # (slot, start, tokens) spans of the first round
    second: list[tuple[int, int, list[int]]] = []  # spans that wait for a first-round prefix
    shared: list[tuple[int, int, int]] = []  # (src, dst, prefix length) copies between the two rounds
    for text, slot in owner.items():
        toks = toks_of[text][:-1]
        donor, n = _longest_prefix(toks, known)
        if n < SHARE_MIN_TOKENS:
            first.append((slot, 0, toks))
            known[slot] = toks
        elif donor in cached:  # already in the cache: copy now, evaluate the rest in the first round
            ctx.copy_seq(donor, slot)
            ctx.drop_seq(slot, n)
            first.append((slot, n, toks[n:]))
            known[slot] = toks
        else:
            shared.append((donor, slot, n))
            second.append((slot, n, toks[n:]))
    ctx.prefill(first)
    for src, dst, n in shared:
        ctx.copy_seq(src, dst)
        ctx.drop_seq(dst, n)
    ctx.prefill(second)
    for idx, text in prompts:
        src, dst = owner[text], slot_of[idx]
        if dst != src and len(toks_of[text]) > 1:
            ctx.copy_seq(src, dst)


def _longest_prefix(toks: list[int], known: dict[int, list[int]]) -> tuple[int, int]:
    """The slot whose tokens share the longest common prefix with ``toks``, and that prefix's length."""
    best, n = -1, 0
    for slot, other in known.items():
        k = len(os.path.commonprefix([toks, other]))
        if k > n:
            best, n = slot, k
    return best, n


def next_token_logits(ctx: BatchContext, prompts: list[str], toks_of: dict[str, list[int]]) -> np.ndarray:
    """The logits after each prompt (one row each, a copy), all in one batched decode; the cache is left empty."""
    ctx.clear()
    prefill_prompts(ctx, list(enumerate(prompts)), toks_of, {i: i for i in range(len(prompts))})
    for i, text in enumerate(prompts):
        ctx.put(i, toks_of[text][-1], len(toks_of[text]) - 1, i, True)
    ctx.decode(len(prompts))
    logits = ctx.logits(len(prompts)).copy()
    ctx.clear()
    return logits


def generate(ctx: BatchContext, model: "LocalModel", prompts: list[str], toks_of: dict[str, list[int]],
             p: SamplingParams, on_token: Callable[[int], None] | None) -> list[Completion]:
    """Every completion of ``stream``, in prompt order."""
    results: list[Completion | None] = [None] * len(prompts)
    for idx, c in stream(ctx, model, prompts, toks_of, p, on_token):
        results[idx] = c
    return results  # type: ignore[return-value]


def stream(ctx: BatchContext, model: "LocalModel", prompts: list[str], toks_of: dict[str, list[int]],
           p: SamplingParams, on_token: Callable[[int], None] | None) -> Iterator[tuple[int, Completion]]:
    """Continuous batching: up to ``ctx.n_seq`` sequences decode together; a finished one frees its slot for the
    next prompt (lowest index first), so short outputs never wait for long ones and the slots stay full until the
    queue runs out. Yields ``(prompt index, completion)`` as each sequence ends, so a caller can commit early
    results while later prompts are still decoding."""
    ctx.clear()
    sampler = BatchSampler(p, [p.seed + i for i in range(len(prompts))], model.eog_ids)
    eog = set(model.eog_ids)
    queue = list(range(len(prompts)))[::-1]  # pop() takes the lowest index first
    free = list(range(ctx.n_seq))  # a heap: a new prompt takes the lowest free slot, so running slots stay 0..k-1
    running: dict[int, SeqState] = {}  # slot -> sequence
    index_of: dict[int, int] = {}  # slot -> prompt index
    next_tok: dict[int, int] = {}
    step_of: dict[int, int] = {}
    while queue or running:
        if queue and free:
            cached = {slot: toks_of[prompts[index_of[slot]]][:-1] for slot in running}
            new: list[tuple[int, str]] = []
            slot_of: dict[int, int] = {}
            while queue and free:
                idx, slot = queue.pop(), heapq.heappop(free)
                text = prompts[idx]
                new.append((idx, text))
                slot_of[idx] = slot
                running[slot] = SeqState(slot=slot, prompt_len=len(toks_of[text]))
                index_of[slot], next_tok[slot], step_of[slot] = idx, toks_of[text][-1], 0
            prefill_prompts(ctx, new, toks_of, slot_of, cached)
        active = [running[slot] for slot in sorted(running)]  # in slot order: see ``compact_slots``
        for i, s in enumerate(active):
            ctx.put(i, next_tok[s.slot], s.prompt_len - 1 + step_of[s.slot], s.slot, True)
        ctx.decode(len(active))
        rows = [index_of[s.slot] for s in active]
        t = time.perf_counter()
        tokens, lps = sampler.sample(ctx.logits(len(active)), rows, [step_of[s.slot] for s in active])
        ctx.stats.sample_s += time.perf_counter() - t
        ctx.stats.sampled += len(active)
        ctx.stats.steps += 1
        finished: list[tuple[int, Completion]] = []
        for s, tok, lp in zip(active, tokens.tolist(), lps.tolist()):
            s.logprob_sum += lp
            step_of[s.slot] += 1
            end = tok in eog
            s.accept(tok, b"" if end else model.piece(tok), end, p)
            next_tok[s.slot] = tok
            if s.done:
                finished.append((index_of[s.slot], s.completion()))
                ctx.drop_seq(s.slot)
                del running[s.slot]
                heapq.heappush(free, s.slot)
        if not queue:
            compact_slots(ctx, running, free, index_of, next_tok, step_of)
        if on_token is not None:
            on_token(len(active))
        yield from finished
        finished.clear()


def compact_slots(ctx: BatchContext, running: dict[int, SeqState], free: list[int], *by_slot: dict[int, int]) -> None:
    """Move the highest running sequences into the lowest free slots until the running slots are 0..k-1.

    Why: with one KV stream per slot, llama.cpp splits a batch into one micro-batch per run of consecutive sequence
    ids taken in batch order, each a full pass over the weights. Measured on 2 cores with 32 slots: a step over
    slots 0..31 in order took 73 ms, the same slots shuffled 247 ms, 16 slots with gaps 214 ms against 53 ms for
    slots 0..15. A move copies one stream's cache (a few megabytes), far cheaper than a pass. ``by_slot`` are the
    loop's other slot-keyed tables, moved along."""
    while free and running and free[0] < max(running):
        src, dst = max(running), heapq.heappop(free)
        ctx.copy_seq(src, dst)
        ctx.drop_seq(src)
        s = running.pop(src)
        s.slot = dst
        running[dst] = s
        for table in by_slot:
            table[dst] = table.pop(src)
        heapq.heappush(free, src)


def generate_grouped(ctx: BatchContext, model: "LocalModel", groups: list[list[str]], toks_of: dict[str, list[int]],
                     p: SamplingParams, combine: GroupLogits, on_token: Callable[[int], None] | None) -> list[Completion]:
    """One completion per group of prompts. Every sequence of a group is fed the same continuation; its next token
    is sampled from ``combine`` of the group's logits. Groups run in waves of ``ctx.n_seq // group size``; group
    ``i`` samples with seed ``p.seed + i``."""
    sampler = BatchSampler(p, [p.seed + i for i in range(len(groups))], model.eog_ids)
    per_wave = ctx.n_seq // len(groups[0])
    results: list[Completion] = []
    for start in range(0, len(groups), per_wave):
        wave = list(range(start, min(len(groups), start + per_wave)))
        results += _wave(ctx, model, groups, wave, toks_of, sampler, p, combine, on_token)
    return results


def _wave(ctx: BatchContext, model: "LocalModel", groups: list[list[str]], wave: list[int],
          toks_of: dict[str, list[int]], sampler: BatchSampler, p: SamplingParams, combine: GroupLogits,
          on_token: Callable[[int], None] | None) -> list[Completion]:
    size = len(groups[0])
    eog = set(model.eog_ids)
    ctx.clear()
    slots = {g: [j * size + k for k in range(size)] for j, g in enumerate(wave)}  # group -> its slots
    prompts = [(slots[g][k], groups[g][k]) for g in wave for k in range(size)]
    prefill_prompts(ctx, prompts, toks_of, {s: s for s, _ in prompts})
    pos = {s: len(toks_of[t]) - 1 for s, t in prompts}
    nxt = {s: toks_of[t][-1] for s, t in prompts}
    seqs = {g: SeqState(slot=slots[g][0], prompt_len=len(toks_of[groups[g][0]])) for g in wave}
    step = {g: 0 for g in wave}
    done: dict[int, Completion] = {}
    while len(done) < len(wave):
        active = [g for g in wave if g not in done]
        n = 0
        for g in active:
            for s in slots[g]:
                ctx.put(n, nxt[s], pos[s], s, True)
                n += 1
        ctx.decode(n)
        weights = combine(ctx.logits(n).reshape(len(active), size, ctx.n_vocab))
        tokens, lps = sampler.sample(weights, active, [step[g] for g in active])
        ctx.stats.sampled += len(active)
        ctx.stats.steps += 1
        for g, tok, lp in zip(active, tokens.tolist(), lps.tolist()):
            s = seqs[g]
            s.logprob_sum += lp
            step[g] += 1
            end = tok in eog
            s.accept(tok, b"" if end else model.piece(tok), end, p)
            for sl in slots[g]:  # every sequence of the group continues with the same token
                nxt[sl], pos[sl] = tok, pos[sl] + 1
            if s.done:
                done[g] = s.completion()
                for sl in slots[g]:
                    ctx.drop_seq(sl)
        if on_token is not None:
            on_token(len(active))
    ctx.clear()
    return [done[g] for g in wave]
