"""SYNTHETIC prefix-block hashes for traces that carry none (the Azure LLM 2023 traces).

The Azure traces give arrival times and token counts only: no prefix identity, so a prefix cache
sees no reuse at all on them. To evaluate cache policies there anyway, ``SyntheticPrefixes`` draws a
prefix structure over the real arrivals and prompt lengths (every output that uses it must say it is
synthetic: ``describe``):

* a request continues one of the last ``open_conversations`` conversations with probability
  ``p_continue`` (chosen uniformly); its prompt then starts with that conversation's latest prompt
  blocks (as many as fit in its own prompt), the rest are new blocks; the conversation's latest
  prompt becomes this one's;
* otherwise it starts a conversation: its first ``system_blocks`` blocks (or fewer, if the prompt is
  shorter) are one of ``system_prompts`` shared system prompts drawn with Zipf(``zipf_s``)
  popularity, the rest are new blocks.

Blocks are ``block_tokens`` tokens (512, as Mooncake's ``hash_ids``); a prompt has ⌊tokens / 512⌋ full
blocks. Deterministic for a ``seed``. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.core._checks import real, whole

__all__ = ["SyntheticPrefixes"]


@dataclass(frozen=True, slots=True)
class SyntheticPrefixes:
    """The synthetic prefix model (module docstring)."""

    p_continue: float = 0.5
    open_conversations: int = 64
    system_prompts: int = 16
    system_blocks: int = 2
    zipf_s: float = 1.2
    block_tokens: int = 512

    def __post_init__(self) -> None:
        """Raises ValidationError naming the field: p_continue outside [0, 1], a count that is not a
        whole number ≥ 1, a Zipf exponent that is not a finite number ≥ 0."""
        put = object.__setattr__
        put(self, "p_continue", real("SyntheticPrefixes.p_continue", self.p_continue, low=0, high=1))
        for name in ("open_conversations", "system_prompts", "system_blocks", "block_tokens"):
            put(self, name, whole(f"SyntheticPrefixes.{name}", getattr(self, name), low=1))
        put(self, "zipf_s", real("SyntheticPrefixes.zipf_s", self.zipf_s, low=0))

    def draw(
        self, prompt_tokens: Sequence[int] | NDArray[np.int64], seed: int = 0
    ) -> list[NDArray[np.int64]]:
        """Per request (in arrival order) its prefix block hashes.

        Raises:
            ValidationError: ``seed`` is not a whole number ≥ 0.
        """
        rng = np.random.default_rng(whole("SyntheticPrefixes.draw seed", seed))
        n = len(prompt_tokens)
        blocks = (np.asarray(prompt_tokens, np.int64) // self.block_tokens).tolist()
        pop = 1.0 / np.arange(1, self.system_prompts + 1) ** self.zipf_s
        system = rng.choice(self.system_prompts, size=n, p=pop / pop.sum()).tolist()
        cont = (rng.random(n) < self.p_continue).tolist()
        pick = rng.random(n).tolist()
        nxt = self.system_prompts * self.system_blocks  # ids below are the system prompts' blocks
        open_: list[list[int]] = []
        out: list[NDArray[np.int64]] = []
        for i in range(n):
            k = blocks[i]
            if cont[i] and open_:
                j = int(pick[i] * len(open_))
                head = open_[j][:k]
                del open_[j]
            else:
                s = system[i] * self.system_blocks
                head = list(range(s, s + min(k, self.system_blocks)))
            hs = head + list(range(nxt, nxt + k - len(head)))
            nxt += k - len(head)
            open_.append(hs)
            if len(open_) > self.open_conversations:
                del open_[0]
            out.append(np.array(hs, np.int64))
        return out

    def describe(self) -> dict[str, Any]:
        """Its label and parameters (JSON-ready)."""
        return {
            "synthetic": True,
            "what": "prefix-block hashes drawn over the trace's real arrivals and prompt lengths",
            "p_continue": self.p_continue,
            "open_conversations": self.open_conversations,
            "system_prompts": self.system_prompts,
            "system_blocks": self.system_blocks,
            "zipf_s": self.zipf_s,
            "block_tokens": self.block_tokens,
        }
