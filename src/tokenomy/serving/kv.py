"""Paged KV blocks with a prefix cache keyed by block hashes, and pluggable eviction (LRU first).

The pool has ``num_blocks`` blocks of ``block_tokens`` tokens (vLLM pages). A running request holds
*private* blocks for its own tokens and *references* to cache entries for a reused prefix. A cache
entry is one prefix hash block (Mooncake ``hash_ids``: 512 tokens, i.e. 32 blocks of 16) and stays
resident after its last user finishes; entries nobody references are evictable, in the order the
eviction policy keeps (SGLang ``evict_policy.py``: one policy, one method): ``lru``, ``fifo``, ``lfu``. ``allocate`` returns
False when the blocks do not fit even after evicting every evictable entry (vLLM ``allocate_slots``
returns None); it never over-allocates. What this does not model: hits on blocks of a request that
is still running (entries are donated to the cache when their request finishes).

``EvictionPolicy`` is a protocol: any object of its shape plugs in (the capital layer's value-aware
and clairvoyant policies do, without either layer importing the other; the interfaces register them
in ``EVICTION_POLICIES`` with ``register_eviction``). A policy may also have ``admit(h)``: the pool
asks it before a finished request's entry enters the cache, and an entry it refuses is freed at once
(``donate``). Policies without it cache every finished entry, as before.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Protocol, TypeVar

from tokenomy.core.errors import ValidationError

__all__ = [
    "EVICTION_POLICIES",
    "EvictionPolicy",
    "FIFOEviction",
    "KVCache",
    "LFUEviction",
    "LRUEviction",
    "register_eviction",
]


class EvictionPolicy(Protocol):
    """Keeps the evictable entries; ``victim`` names the next one to evict (and forgets it).

    ``candidates(k)`` lists the next k victims in order without changing what ``victim`` returns
    (read by the eviction ledger, ``recording``; never on the default path). ``fresh()`` gives a new,
    empty policy with the same parameters (each run gets one).
    """

    name: str = "base"

    def fresh(self) -> EvictionPolicy:
        """A new, empty policy of this kind with the same parameters."""
        return type(self)()

    def add(self, h: int) -> None:
        """``h`` became evictable (its last user released it, or it was just donated)."""
        raise NotImplementedError

    def remove(self, h: int) -> None:
        """``h`` is referenced again: no longer evictable."""
        raise NotImplementedError

    def victim(self) -> int | None:
        """Pop and return the entry to evict, or ``None`` when nothing is evictable."""
        raise NotImplementedError

    def candidates(self, k: int) -> list[int]:
        """The next ``k`` (or fewer) entries ``victim`` would return, first one first."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class LRUEviction(EvictionPolicy):
    """Least recently released first."""

    name = "lru"

    def __init__(self) -> None:
        self._d: OrderedDict[int, None] = OrderedDict()

    def add(self, h: int) -> None:
        self._d[h] = None

    def remove(self, h: int) -> None:
        del self._d[h]

    def victim(self) -> int | None:
        return self._d.popitem(last=False)[0] if self._d else None

    def candidates(self, k: int) -> list[int]:
        return list(islice(self._d, k))

    def __len__(self) -> int:
        return len(self._d)


class FIFOEviction(EvictionPolicy):
    """Oldest insertion into the cache first, however recently it was used."""

    name = "fifo"

    def __init__(self) -> None:
        self._seq: dict[int, int] = {}  # hash -> first-insertion number
        self._heap: list[tuple[int, int]] = []
        self._live: set[int] = set()
        self._n = 0

    def add(self, h: int) -> None:
        if h not in self._seq:
            self._seq[h] = self._n
            self._n += 1
        self._live.add(h)
        heapq.heappush(self._heap, (self._seq[h], h))

    def remove(self, h: int) -> None:
        self._live.discard(h)

    def victim(self) -> int | None:
        while self._heap:
            n, h = heapq.heappop(self._heap)
            if h in self._live and self._seq[h] == n:  # not a record left from an earlier stay
                self._live.discard(h)
                del self._seq[h]
                return h
        return None

    def candidates(self, k: int) -> list[int]:
        return _heap_candidates(self._heap, k, lambda e: e[1] in self._live and self._seq[e[1]] == e[0])

    def __len__(self) -> int:
        return len(self._live)


class LFUEviction(EvictionPolicy):
    """Fewest uses first (uses = times the entry became referenced again), oldest release on ties."""

    name = "lfu"

    def __init__(self) -> None:
        self._uses: dict[int, int] = {}  # hash -> reuse count while resident
        self._heap: list[tuple[int, int, int]] = []  # (uses, release number, hash), lazily deleted
        self._live: dict[int, int] = {}  # evictable hash -> its release number
        self._n = 0

    def add(self, h: int) -> None:
        self._n += 1
        self._live[h] = self._n
        heapq.heappush(self._heap, (self._uses.setdefault(h, 0), self._n, h))

    def remove(self, h: int) -> None:
        del self._live[h]
        self._uses[h] = self._uses.get(h, 0) + 1

    def victim(self) -> int | None:
        while self._heap:
            _, n, h = heapq.heappop(self._heap)
            if self._live.get(h) == n:
                del self._live[h]
                del self._uses[h]
                return h
        return None

    def candidates(self, k: int) -> list[int]:
        return _heap_candidates(self._heap, k, lambda e: self._live.get(e[2]) == e[1])

    def __len__(self) -> int:
        return len(self._live)


_E = TypeVar("_E", bound=tuple[int, ...])


def _heap_candidates(heap: list[_E], k: int, live: Callable[[_E], bool]) -> list[int]:
    """The next k distinct live hashes (last tuple field) a lazily-deleted heap would pop.

    Pops and pushes back every entry it looked at, so the heap holds the same entries after (its
    pop order, a function of the entries alone, is unchanged).
    """
    popped: list[_E] = []
    out: list[int] = []
    seen: set[int] = set()
    while heap and len(out) < k:
        e = heapq.heappop(heap)
        popped.append(e)
        h = e[-1]
        if h not in seen and live(e):
            seen.add(h)
            out.append(h)
    for e in popped:
        heapq.heappush(heap, e)
    return out


EVICTION_POLICIES: dict[str, Callable[[], EvictionPolicy]] = {
    "lru": LRUEviction,
    "fifo": FIFOEviction,
    "lfu": LFUEviction,
}


def register_eviction(name: str, make: Callable[[], EvictionPolicy]) -> None:
    """Add (or replace) a policy under ``name``: ``make()`` returns a fresh instance."""
    if not (isinstance(name, str) and name):
        raise ValidationError(f"eviction policy name must be a non-empty string; got {name!r}")
    EVICTION_POLICIES[name] = make


class KVCache:
    """Block accounting for private blocks and shared prefix-cache entries.

    Args:
        num_blocks: pool size in blocks.
        block_tokens: tokens per block.
        hash_block_tokens: tokens per prefix hash block (a multiple of ``block_tokens``).
        eviction: a policy name from ``EVICTION_POLICIES`` or an instance.
    """

    def __init__(
        self,
        *,
        num_blocks: int,
        block_tokens: int = 16,
        hash_block_tokens: int = 512,
        eviction: str | EvictionPolicy = "lru",
    ) -> None:
        if hash_block_tokens % block_tokens:
            raise ValidationError(
                f"hash_block_tokens ({hash_block_tokens}) must be a multiple of block_tokens ({block_tokens})"
            )
        if isinstance(eviction, str):
            if eviction not in EVICTION_POLICIES:
                raise ValidationError(
                    f"unknown eviction policy {eviction!r}; valid: {sorted(EVICTION_POLICIES)}"
                )
            eviction = EVICTION_POLICIES[eviction]()
        self.num_blocks = num_blocks
        self.block_tokens = block_tokens
        self.entry_blocks = hash_block_tokens // block_tokens
        self.free = num_blocks
        self.refs: dict[int, int] = {}  # hash -> number of running requests using it
        self.policy = eviction
        self.evictions = 0
        self._admit: Callable[[int], bool] | None = getattr(eviction, "admit", None)
        self.refused = 0  # finished entries the policy would not cache

    @property
    def used(self) -> int:
        """Blocks held privately or by cache entries."""
        return self.num_blocks - self.free

    @property
    def available(self) -> int:
        """Blocks that an allocation could get: free plus evictable."""
        return self.free + len(self.policy) * self.entry_blocks

    def allocate(self, n: int) -> bool:
        """Take ``n`` private blocks, evicting unreferenced entries if needed; False if it cannot fit."""
        if self.free < n:
            if self.available < n:
                return False
            while self.free < n:
                self._evict()
        self.free -= n
        assert 0 <= self.free <= self.num_blocks
        return True

    def _evict(self) -> int:
        """Evict the policy's victim (an unreferenced entry); return its hash."""
        h = self.policy.victim()
        assert h is not None
        del self.refs[h]
        self.free += self.entry_blocks
        self.evictions += 1
        return h

    def release(self, n: int) -> None:
        """Return ``n`` private blocks to the pool."""
        self.free += n
        assert self.free <= self.num_blocks

    def match(self, hashes: Sequence[int]) -> int:
        """Number of leading hashes that are resident."""
        k = 0
        refs = self.refs
        for h in hashes:
            if h not in refs:
                break
            k += 1
        return k

    def acquire(self, hashes: Sequence[int]) -> None:
        """Reference resident entries (they stop being evictable)."""
        for h in hashes:
            r = self.refs[h]
            if r == 0:
                self.policy.remove(h)
            self.refs[h] = r + 1

    def unref(self, hashes: Sequence[int]) -> None:
        """Drop references; entries nobody uses become evictable (deepest block first)."""
        for h in reversed(hashes):
            r = self.refs[h] - 1
            self.refs[h] = r
            if r == 0:
                self.policy.add(h)

    def donate(self, hashes: Sequence[int], private_blocks: int) -> None:
        """A finished request hands its full prefix blocks to the cache and frees the rest.

        Args:
            hashes: the request's full hash blocks that it computed itself (not those it reused).
            private_blocks: the private blocks it holds (≥ entry blocks of the new entries).
        """
        used = 0
        admit = self._admit
        for h in reversed(hashes):
            if h in self.refs or used + self.entry_blocks > private_blocks:
                continue
            if admit is not None and not admit(h):
                self.refused += 1
                continue
            self.refs[h] = 0
            self.policy.add(h)
            used += self.entry_blocks
        self.release(private_blocks - used)
