"""Has the generator copied its seeds? Exact shared token runs and near duplicates, against an index built once.

Exact overlap: every seed's word n-grams of the policy's length (default 8) go into one hash table; a generated
record looks up each of its own n-grams (one dict probe per token, never a pairwise comparison) and extends each
hit left and right along the seed to the longest shared run. Near duplicates: datasketch MinHash LSH over word
shingles, candidates confirmed by exact Jaccard of the shingle sets. Both cost time linear in the number of seed
and record tokens.

The index keeps token ids and character offsets, not seed text, and a match reports the seed record's id and the
offsets of the shared span on both sides: a reviewer can see *that* and *where* a record copies a seed without the
reason itself repeating the seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from datasketch import MinHash, MinHashLSH

WORD = re.compile(r"\w+")
_MASK = (1 << 32) - 1
NUM_PERM = 64


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Lower-cased word tokens with their character offsets (punctuation and case do not hide a copy)."""
    return [(m.group().lower(), m.start(), m.end()) for m in WORD.finditer(text)]


@dataclass(frozen=True)
class ExactMatch:
    seed_id: int
    tokens: int
    start: int  # record character offsets, end exclusive
    end: int
    seed_start: int
    seed_end: int


@dataclass(frozen=True)
class NearMatch:
    seed_id: int
    jaccard: float


class MemorizationIndex:
    """Built once over the seed records; ``check`` is then cheap per generated record."""

    def __init__(self, seeds: Iterable[tuple[int, str]], *, ngram: int = 8, shingle: int = 2, min_shingles: int = 5,
                 jaccard: float = 0.5, num_perm: int = NUM_PERM) -> None:
        self.ngram, self.shingle, self.min_shingles, self.jaccard = ngram, shingle, min_shingles, jaccard
        self._vocab: dict[str, int] = {}
        self._seed_ids: list[int] = []
        self._ids: list[np.ndarray] = []      # token ids per seed
        self._offs: list[np.ndarray] = []     # (start, end) char offsets per seed token
        self._shingles: list[frozenset[int]] = []
        self._grams: dict[int, int] = {}      # n-gram hash → seed index << 24 | position
        template = MinHash(num_perm=num_perm, seed=1, hashfunc=int)  # permutations generated once, shared by all
        self._perms, self._scheme = template.permutations, template.scheme
        self._num_perm = num_perm
        self._lsh = MinHashLSH(threshold=jaccard, num_perm=num_perm)
        for seed_id, text in seeds:
            self._add(seed_id, text)

    def __len__(self) -> int:
        return len(self._seed_ids)

    def _token_ids(self, toks: Sequence[tuple[str, int, int]], grow: bool) -> list[int]:
        vocab, out = self._vocab, []
        for k, (w, _, _) in enumerate(toks):
            i = vocab.get(w)
            if i is None:
                if grow:
                    i = vocab[w] = len(vocab)
                else:
                    i = -1 - k  # unseen in every seed: unique, so it never extends a run
            out.append(i)
        return out

    def _shingle_set(self, ids: Sequence[int]) -> frozenset[int]:
        n = self.shingle
        return frozenset(hash(tuple(ids[i:i + n])) & _MASK for i in range(len(ids) - n + 1))

    def _minhash(self, shingles: frozenset[int]) -> MinHash:
        m = MinHash(num_perm=self._num_perm, hashfunc=int, permutations=self._perms, scheme=self._scheme)
        m.update_batch(list(shingles))
        return m

    def _add(self, seed_id: int, text: str) -> None:
        toks = tokenize(text)
        idx = len(self._seed_ids)
        ids = self._token_ids(toks, grow=True)
        self._seed_ids.append(seed_id)
        self._ids.append(np.asarray(ids, dtype=np.int64))
        self._offs.append(np.asarray([(s, e) for _, s, e in toks], dtype=np.int32).reshape(-1, 2))
        n = self.ngram
        grams = self._grams
        for p in range(len(ids) - n + 1):
            grams.setdefault(hash(tuple(ids[p:p + n])), idx << 24 | p)
        sh = self._shingle_set(ids)
        self._shingles.append(sh)
        if len(sh) >= self.min_shingles:
            self._lsh.insert(idx, self._minhash(sh), check_duplication=False)

    def longest_run(self, text: str, toks: Sequence[tuple[str, int, int]] | None = None) -> ExactMatch | None:
        """The longest run of at least ``ngram`` tokens this text shares with one seed, or None."""
        toks = tokenize(text) if toks is None else toks
        ids = self._token_ids(toks, grow=False)
        n, best, covered = self.ngram, None, set()
        for p in range(len(ids) - n + 1):
            hit = self._grams.get(hash(tuple(ids[p:p + n])))
            if hit is None:
                continue
            si, q = hit >> 24, hit & 0xFFFFFF
            if (si, p - q) in covered:
                continue  # already extended along this diagonal
            seed = self._ids[si]
            if not all(seed[q + t] == ids[p + t] for t in range(n)):
                continue  # hash collision
            a, b = p, q
            while a > 0 and b > 0 and seed[b - 1] == ids[a - 1]:
                a, b = a - 1, b - 1
            e, f = p + n, q + n
            while e < len(ids) and f < len(seed) and seed[f] == ids[e]:
                e, f = e + 1, f + 1
            length = e - a
            covered.add((si, p - q))
            if best is None or length > best[0]:
                best = (length, si, a, b)
        if best is None:
            return None
        length, si, a, b = best
        offs = self._offs[si]
        return ExactMatch(self._seed_ids[si], length, toks[a][1], toks[a + length - 1][2], int(offs[b][0]), int(offs[b + length - 1][1]))

    def near_duplicate(self, text: str, toks: Sequence[tuple[str, int, int]] | None = None) -> NearMatch | None:
        """The most similar seed whose shingle Jaccard reaches the threshold, or None."""
        toks = tokenize(text) if toks is None else toks
        sh = self._shingle_set(self._token_ids(toks, grow=False))
        if len(sh) < self.min_shingles:
            return None
        best = None
        for si in self._lsh.query(self._minhash(sh)):
            other = self._shingles[si]
            j = len(sh & other) / len(sh | other)
            if j >= self.jaccard and (best is None or j > best[0]):
                best = (j, si)
        return NearMatch(self._seed_ids[best[1]], round(best[0], 3)) if best else None

    def check(self, text: str) -> tuple[ExactMatch | None, NearMatch | None]:
        toks = tokenize(text)
        return self.longest_run(text, toks), self.near_duplicate(text, toks)
