"""Prompt features for the quality estimators: hashed TF-IDF of words and word pairs, plus the category;
the online router's fixed-length vector.

Computed by hand with numpy/scipy (no scikit-learn at prediction time) so that one request from raw
text costs well under a millisecond: lower-case word tokens and adjacent pairs are hashed with
CRC-32 into ``n_features`` buckets, weighted by sublinear TF × IDF (fitted on the training prompts)
and L2-normalised. Lines that occur in more than ``boilerplate_share`` of the training prompts
(few-shot examples, instructions) are dropped before hashing, so the features describe the question
itself. Categories become integer codes; a category unseen in training gets code -1.
For multiple-choice prompts the *answer-option signature* (a CRC-32 of the option texts of the final
question block, "A) …", "B) …") is kept per prompt (0 when there are fewer than two options): two
prompts with the same options are the same item or its twin (Winogrande pairs a sentence with a copy
whose trigger word flips the answer), which the neighbour estimator uses.
``prompt_features`` is the online router's fixed-length vector of one prompt (no fitted vocabulary):
lengths, hashed words and the question's shape (``routing.online``).
This module does not read files and does not learn anything about models.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from tokenomy.core._checks import flag, whole
from tokenomy.core._checks import text as checked_text
from tokenomy.core.errors import ValidationError

__all__ = [
    "FEATURE_BOUND",
    "MAX_FEATURES",
    "N_DENSE",
    "Features",
    "TextFeaturizer",
    "bucket_of",
    "feature_length",
    "final_question",
    "option_signature",
    "prompt_features",
]

_TOKEN = re.compile(r"[a-z0-9_]+|[^\sa-z0-9_]")


@dataclass(frozen=True, slots=True)
class Features:
    """Features of N prompts.

    Attributes:
        text: (N, n_features) CSR matrix, rows L2-normalised TF-IDF.
        category_codes: shape (N,), index into the featurizer's categories, -1 if unseen.
        n_categories: number of categories seen in training.
        log_chars: shape (N,), log(1 + prompt length in characters).
        option_sig: shape (N,), the answer-option signature (0: not multiple choice); ``None``: all 0.
        embedding: (N, d) unit sentence embeddings (``tokenomy.routing.encoder``) when the router has
            an encoder, else ``None``.
    """

    text: sp.csr_matrix
    category_codes: NDArray[np.int64]
    n_categories: int
    log_chars: NDArray[np.float64]
    option_sig: NDArray[np.int64] | None = None
    embedding: NDArray[np.float32] | None = None

    def signatures(self) -> NDArray[np.int64]:
        """The answer-option signature per prompt, (N,) (zeros when none were computed)."""
        if self.option_sig is None:
            return np.zeros(len(self), dtype=np.int64)
        return self.option_sig

    def __len__(self) -> int:
        return int(self.category_codes.shape[0])

    def rows(self, idx: NDArray[np.int64]) -> Features:
        """The features of a subset of prompts."""
        sig = None if self.option_sig is None else self.option_sig[idx]
        emb = None if self.embedding is None else self.embedding[idx]
        return Features(
            self.text[idx], self.category_codes[idx], self.n_categories, self.log_chars[idx], sig, emb
        )

    def without_category(self) -> Features:
        """The same prompts with every category withheld (code −1, as for a category unseen in training)."""
        codes = np.full(len(self), -1, dtype=np.int64)
        return Features(self.text, codes, self.n_categories, self.log_chars, self.option_sig, self.embedding)

    def with_embedding(self, embedding: NDArray[np.float32]) -> Features:
        """The same features with sentence embeddings (N, d) attached.

        Raises:
            ValidationError: the embedding has another number of rows.
        """
        if embedding.ndim != 2 or embedding.shape[0] != len(self):
            raise ValidationError(f"embedding must have shape ({len(self)}, d), got {embedding.shape}")
        return Features(
            self.text, self.category_codes, self.n_categories, self.log_chars, self.option_sig, embedding
        )

    def category_onehot(self) -> NDArray[np.float64]:
        """(N, n_categories) indicator matrix (all zeros for an unseen category)."""
        out = np.zeros((len(self), self.n_categories))
        seen = self.category_codes >= 0
        out[np.flatnonzero(seen), self.category_codes[seen]] = 1.0
        return out


_OPTION = re.compile(r"^\s*\(?([A-Ja-j])[).:]\s+(.+?)\s*$", re.M)


def option_signature(prompt: str) -> int:
    """CRC-32 (≥ 1) of the answer options of the prompt's final block ("A) x", "(b) y", "C. z"), 0 if < 2.

    The final block is the text after the last blank line (few-shot examples come before it).
    """
    block = prompt.rstrip().rsplit("\n\n", 1)[-1]
    opts = [m.group(2) for m in _OPTION.finditer(block)]
    if len(opts) < 2:
        return 0
    return zlib.crc32("\x1f".join(opts).encode()) + 1


def bucket_of(tokens: Iterable[str], n: int) -> list[int]:
    """The CRC-32 hash bucket (mod ``n``) of each token: the one hashing both feature sets use."""
    return [zlib.crc32(t.encode()) % n for t in tokens]


def _hash_tokens(text: str, n_features: int, bigrams: bool) -> list[int]:
    toks = _TOKEN.findall(text.lower())
    grams = toks + [f"{a} {b}" for a, b in itertools.pairwise(toks)] if bigrams else toks
    return bucket_of(grams, n_features)


class TextFeaturizer:
    """Hashed TF-IDF with category codes.

    Args:
        n_features: hash buckets (a power of two is customary).
        bigrams: also hash adjacent word pairs.
    """

    def __init__(
        self, *, n_features: int = 2**18, bigrams: bool = True, boilerplate_share: float = 0.05
    ) -> None:
        self.n_features = n_features
        self.bigrams = bigrams
        self.boilerplate_share = boilerplate_share

    def question(self, text: str) -> str:
        """The prompt without its boilerplate lines (what the features and the encoder describe)."""
        return self._strip(text)

    def _strip(self, text: str) -> str:
        boiler = self.boilerplate_
        return "\n".join(line for line in text.splitlines() if line not in boiler) if boiler else text

    def _counts(self, prompts: Sequence[str]) -> sp.csr_matrix:
        indptr = [0]
        indices: list[int] = []
        for text in prompts:
            indices.extend(_hash_tokens(self._strip(text), self.n_features, self.bigrams))
            indptr.append(len(indices))
        data = np.ones(len(indices))
        m = sp.csr_matrix(
            (data, np.asarray(indices, np.int64), np.asarray(indptr, np.int64)),
            shape=(len(prompts), self.n_features),
        )
        m.sum_duplicates()
        return m

    def fit(self, prompts: Sequence[str], categories: Sequence[str]) -> TextFeaturizer:
        """Learn IDF weights and the category vocabulary from training prompts.

        Raises:
            ValidationError: no prompts, or prompts and categories differ in length.
        """
        if len(prompts) == 0 or len(prompts) != len(categories):
            raise ValidationError(
                f"fit needs ≥ 1 prompt and one category per prompt; got {len(prompts)} "
                f"prompts, {len(categories)} categories"
            )
        line_df: Counter[str] = Counter()
        for text in prompts:
            line_df.update(set(text.splitlines()))
        cut = max(3.0, self.boilerplate_share * len(prompts))
        self.boilerplate_ = frozenset(line for line, k in line_df.items() if k > cut and line.strip())
        counts = self._counts(prompts)
        df = np.bincount(counts.indices, minlength=self.n_features)
        self.idf_ = np.log((1.0 + len(prompts)) / (1.0 + df)) + 1.0
        self.categories_ = tuple(sorted(set(categories)))
        self._code = {c: i for i, c in enumerate(self.categories_)}
        return self

    def transform(self, prompts: Sequence[str], categories: Sequence[str]) -> Features:
        """Features of new prompts (after ``fit``)."""
        counts = self._counts(prompts)
        return self._finish(counts, prompts, categories)

    def transform_one(self, prompt: str, category: str = "") -> Features:
        """Features of one prompt, built with numpy only (the single-request latency path)."""
        idx = np.asarray(_hash_tokens(self._strip(prompt), self.n_features, self.bigrams), np.int64)
        cols, cnt = np.unique(idx, return_counts=True)
        data = (1.0 + np.log(cnt)) * self.idf_[cols]
        norm = float(np.sqrt(data @ data)) or 1.0
        text = sp.csr_matrix((data / norm, cols, np.array([0, cols.size])), shape=(1, self.n_features))
        code = np.array([self._code.get(category, -1)], dtype=np.int64)
        sig = np.array([option_signature(prompt)], dtype=np.int64)
        return Features(text, code, len(self.categories_), np.array([np.log1p(len(prompt))]), sig)

    def _finish(self, counts: sp.csr_matrix, prompts: Sequence[str], categories: Sequence[str]) -> Features:
        w = counts.copy()
        w.data = (1.0 + np.log(w.data)) * self.idf_[w.indices]
        norms = np.sqrt(np.asarray(w.multiply(w).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        w = sp.csr_matrix(sp.diags(1.0 / norms) @ w)
        codes = np.array([self._code.get(c, -1) for c in categories], dtype=np.int64)
        log_chars = np.log1p(np.array([len(p) for p in prompts], dtype=np.float64))
        sig = np.array([option_signature(p) for p in prompts], dtype=np.int64)
        return Features(w, codes, len(self.categories_), log_chars, sig)


# --- the online router's features: a fixed-length vector of one prompt, no fitted vocabulary ---

_WORD = re.compile(r"[a-z]+|[0-9]+|[^\sa-z0-9]")
N_DENSE = 5
"""Dense features before the hashed words: bias, log length, digit share, longest number, number count."""
MAX_FEATURES = 1024
"""Largest feature length: the router keeps a d × d matrix per model (8 MiB each at this bound)."""
FEATURE_BOUND = 1e6
"""Largest |feature| the router learns from or scores; beyond it a rank-one step loses all precision
(``prompt_features`` stays within it: its only unbounded entry, the longest number, is capped)."""


def final_question(prompt: str) -> str:
    """The part of a prompt that asks: after the last line starting with ``Q:``, else after the last blank line.

    Few-shot examples and instructions before it are the same for many prompts and would drown the
    question's own features.
    """
    lines = prompt.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Q:")]
    if starts:
        return "\n".join(lines[starts[-1] :])
    return prompt.rstrip().rsplit("\n\n", 1)[-1]


def feature_length(n_hash: int = 32, shapes: bool = True) -> int:
    """Length of ``prompt_features(prompt, n_hash, shapes)``: ``N_DENSE + n_hash``, plus ``1 + n_hash`` with shapes."""
    _checked(n_hash, shapes, "feature_length")
    return N_DENSE + n_hash + (1 + n_hash if shapes else 0)


def _checked(n_hash: int, shapes: bool, where: str) -> None:
    whole("n_hash", n_hash, low=1, high=(MAX_FEATURES - N_DENSE - 1) // 2, where=where)
    flag("shapes", shapes, where=where)


def _hashed(tokens: Iterable[str], n: int) -> NDArray[np.float64]:
    """Counts of ``tokens`` in ``n`` CRC-32 buckets, divided by their L2 norm (zeros stay zeros)."""
    h = np.zeros(n)
    np.add.at(h, bucket_of(tokens, n), 1.0)
    norm = float(np.linalg.norm(h))
    return h / norm if norm > 0 else h


def prompt_features(prompt: str, n_hash: int = 32, shapes: bool = True) -> NDArray[np.float64]:
    """A fixed-length feature vector of one prompt's final question (``final_question``), length ``feature_length``.

    Dense part: 1 (bias), log(1 + chars) / 8, share of digit characters, (longest number's digits) / 8
    (at most ``FEATURE_BOUND``), log(1 + count of numbers) / 3. Hashed part: lower-case words (CRC-32 mod
    ``n_hash``), counts divided by their L2 norm, so a prompt's vocabulary (operation words, "table",
    "multiply") enters without a fitted vocabulary.

    With ``shapes`` (the default) two more parts follow: log(1 + line breaks) / 3 (rows of a table or a
    list), and the question's *shape* hashed the same way: each number written as its digit count
    (``57 * 12`` → ``#2 * #2``), those shape tokens and every adjacent pair of tokens (``#2 *``,
    ``* #2``). A linear model on words alone cannot tell a one-digit product from a two-digit one;
    the shape pairs can. Chosen by 5-fold cross-validation on the train halves of the real-model
    workload (``benchmarks/bench_gateway_features.py``); ``shapes=False`` gives the words-only vector.
    """
    checked_text("prompt", prompt, where="prompt_features")
    _checked(n_hash, shapes, "prompt_features")
    prompt = final_question(prompt)
    toks = _WORD.findall(prompt.lower())
    nums = [t for t in toks if t.isdigit()]
    words = [t for t in toks if not t.isdigit()]
    dense = [
        1.0,
        math.log1p(len(prompt)) / 8.0,
        sum(c.isdigit() for c in prompt) / max(1, len(prompt)),
        min(max((len(t) for t in nums), default=0) / 8.0, FEATURE_BOUND),
        math.log1p(len(nums)) / 3.0,
    ]
    parts = [np.asarray(dense), _hashed(words, n_hash)]
    if shapes:
        shape = [f"#{len(t)}" if t.isdigit() else t for t in toks]
        pairs = (f"{a} {b}" for a, b in itertools.pairwise(shape))
        parts.append(np.asarray([math.log1p(prompt.count("\n")) / 3.0]))
        parts.append(_hashed([*(t for t in shape if t.startswith("#")), *pairs], n_hash))
    return np.concatenate(parts)
