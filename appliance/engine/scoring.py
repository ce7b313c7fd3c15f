"""Batched log-likelihood scoring on a ``LocalModel``: each prefix evaluated once, its continuations as branches.

Scoring asks for log p(continuation | prefix) for many prefixes (texts put to the judge) and a few continuations
each (label words), or for one short prefix and many continuations (perplexity). A continuation's first token is
read from the logits of the prefix's last token, so single-token continuations cost nothing beyond the prefix. A
longer continuation needs its own tokens but its last evaluated after the prefix: that tail is a branch, and
continuations whose tails are prefixes of one another share one branch. The first branch of a request extends the
prefix in the request's own sequence; each further branch gets a copy of the prefix's KV cache
(``llama_memory_seq_cp``) or, for a prefix too short to be worth a copy, the prefix again in its own sequence.
Requests are packed up to the context's sequence slots, and their tokens go to ``llama_decode`` in batches of up to
``n_batch`` tokens, with logits requested only where a probability is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from appliance.engine.context import BatchContext
from appliance.errors import BadInput

if TYPE_CHECKING:
    from appliance.engine.llama import LocalModel

# A prefix shorter than this is evaluated again in each branch's sequence instead of copied (a copy moves a whole
# sequence stream of the KV cache; a few tokens more in a batch cost less).
COPY_MIN_TOKENS = 32

Tokens = Sequence[int]


@dataclass
class _Plan:
    """One request (or a slice of its continuations) laid out on sequences."""

    request: int
    prefix: list[int]
    conts: dict[int, list[int]]  # continuation index in the request -> its tokens
    branches: list[list[int]] = field(default_factory=list)
    branch_of: dict[int, int] = field(default_factory=dict)  # continuation index -> branch holding its tail

    @property
    def n_seqs(self) -> int:
        return max(1, len(self.branches))

    @property
    def copies(self) -> bool:
        return len(self.branches) > 1 and len(self.prefix) >= COPY_MIN_TOKENS

    @property
    def n_tokens(self) -> int:
        return len(self.prefix) * (1 if self.copies else self.n_seqs) + sum(len(b) for b in self.branches)


def _plans(requests: Sequence[tuple[Tokens, Sequence[Tokens]]], max_seqs: int, max_len: int) -> list[_Plan]:
    plans: list[_Plan] = []
    for r, (prefix, conts) in enumerate(requests):
        prefix = list(prefix)
        if not prefix:
            raise ValueError("empty prefix")
        plan = _Plan(r, prefix, {})
        for j, c in sorted(enumerate(conts), key=lambda jc: -len(jc[1])):  # longest first: shorter tails share them
            c = list(c)
            if not c:
                raise ValueError("empty continuation")
            if len(prefix) + len(c) - 1 > max_len:
                raise BadInput(f"text too long to score: {len(prefix) + len(c)} tokens (the limit is {max_len})")
            tail = c[:-1]
            b = next((i for i, br in enumerate(plan.branches) if br[: len(tail)] == tail), None) if tail else None
            if tail and b is None:
                if len(plan.branches) == max_seqs:  # this request needs more sequences than the context has
                    plans.append(plan)
                    plan = _Plan(r, prefix, {})
                b = len(plan.branches)
                plan.branches.append(tail)
            plan.conts[j] = c
            if b is not None:
                plan.branch_of[j] = b
        plans.append(plan)
    return plans


@dataclass
class _Entry:
    token: int
    pos: int
    seq: int
    reads: list[tuple[int, int, int, int]]  # (plan, continuation, token index, token id) read from this entry's logits


class _Group:
    """Plans sharing one pass over the context's sequences."""

    def __init__(self, plans: list[tuple[int, _Plan]]) -> None:
        self.plans = plans
        self.first: list[_Entry] = []  # what needs no copy
        self.second: list[_Entry] = []  # branches on copied prefixes
        self.copies: list[tuple[int, int, int]] = []  # (src seq, dst seq, prefix length)
        seq = 0
        for p, plan in plans:
            own = seq
            seq += plan.n_seqs
            n = len(plan.prefix)
            first_reads = [(p, j, 0, c[0]) for j, c in plan.conts.items()]
            for b, tail in enumerate(plan.branches or [[]]):
                s = own + b
                reads = [[] for _ in tail]
                for j, bj in plan.branch_of.items():
                    if bj == b:
                        c = plan.conts[j]
                        for k in range(1, len(c)):
                            reads[k - 1].append((p, j, k, c[k]))
                branch = [_Entry(t, n + k, s, reads[k]) for k, t in enumerate(tail)]
                if b == 0 or not plan.copies:
                    pre = [_Entry(t, k, s, []) for k, t in enumerate(plan.prefix)]
                    if b == 0:
                        pre[-1].reads = first_reads
                    self.first += pre + branch
                else:
                    self.copies.append((own, s, n))
                    self.second += branch


def score_tokens(
    ctx: BatchContext,
    model: "LocalModel",
    requests: Sequence[tuple[Tokens, Sequence[Tokens]]],
    on_scored: Callable[[int], None] | None = None,
) -> list[list[list[float]]]:
    """Per-token log-probabilities of each request's continuations after its prefix: ``out[r][j][k]``.

    The caller holds the model's lock (``ctx`` is its context). ``on_scored(n)`` gets the number of continuations finished after each group.
    """
    out: list[list[list[float]]] = [[[0.0] * len(c) for c in conts] for _, conts in requests]
    plans = _plans(requests, model.max_parallel, model.ctx_per_seq)
    # Tokens per group: on a CPU, one micro-batch (more sequences per decode only add attention overhead: measured
    # 666 tokens/s for one 300-token prompt per decode, 369 for 32 of them); on a GPU, a whole batch.
    budget = ctx.n_batch if model.offloaded else ctx.n_ubatch
    group: list[tuple[int, _Plan]] = []
    seqs = tokens = 0
    for p, plan in enumerate(plans):
        if group and (seqs + plan.n_seqs > model.max_parallel or tokens + plan.n_tokens > budget):
            _run_group(ctx, _Group(group), out, on_scored)
            group, seqs, tokens = [], 0, 0
        group.append((p, plan))
        seqs += plan.n_seqs
        tokens += plan.n_tokens
    if group:
        _run_group(ctx, _Group(group), out, on_scored)
    return out


def _run_group(ctx: BatchContext, g: _Group, out: list[list[list[float]]], on_scored) -> None:
    plans = dict(g.plans)
    ctx.clear()
    _decode_entries(ctx, g.first, plans, out)
    for src, dst, n in g.copies:
        ctx.copy_seq(src, dst)
        ctx.drop_seq(dst, n)  # drop the source's own branch
    _decode_entries(ctx, g.second, plans, out)
    ctx.clear()
    if on_scored is not None:
        on_scored(sum(len(plan.conts) for _, plan in g.plans))


def _decode_entries(ctx: BatchContext, entries: list[_Entry], plans: dict[int, _Plan], out) -> None:
    for start in range(0, len(entries), ctx.n_batch):
        chunk = entries[start : start + ctx.n_batch]
        for i, e in enumerate(chunk):
            ctx.put(i, e.token, e.pos, e.seq, bool(e.reads))
        ctx.decode(len(chunk))
        wanted = [e for e in chunk if e.reads]
        if not wanted:
            continue
        rows = ctx.logits(len(wanted))
        top = rows.max(axis=1)
        lse = top + np.log(np.exp(rows - top[:, None]).sum(axis=1))
        for i, e in enumerate(wanted):
            for p, j, k, tok in e.reads:
                out[plans[p].request][j][k] = float(rows[i, tok]) - float(lse[i])
