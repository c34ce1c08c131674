"""Routing datasets in one generic *long* format: one row per (prompt, model), held as N × M arrays.

The long format (docs/routing.md) has the columns ``prompt_id``, ``prompt``, ``model``, ``quality``
(0/1 or a score in [0, 1]), ``cost_usd`` and optionally ``category``, ``split``, ``input_tokens``,
``output_tokens``, ``latency_s``. ``RoutingDataset.from_long`` validates the rows and pivots them into
dense arrays (prompts × models), which is what the estimators and the evaluation use. It reads no
file: the loaders in ``tokenomy.interfaces.loaders.routing`` parse CSV / Parquet / JSONL and the
RouterBench and RouterArena releases and hand the rows in.

Bad input raises ``SchemaError`` naming the row and the field; repairs the caller asked for
(dropping prompts without every model's outcome) are counted in ``repairs``, never silent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tokenomy.core._checks import real, whole
from tokenomy.core.errors import SchemaError, ValidationError

__all__ = ["DEV_SPLITS", "LONG_COLUMNS", "REQUIRED_COLUMNS", "RoutingDataset"]

DEV_SPLITS = ("dev", "valid", "validation")
"""Split names of rows kept for model selection: merged into train, where selection is cross-validated."""

REQUIRED_COLUMNS = ("prompt_id", "prompt", "model", "quality", "cost_usd")
LONG_COLUMNS = (*REQUIRED_COLUMNS, "category", "split", "input_tokens", "output_tokens", "latency_s")
_OPTIONAL_NUM = ("input_tokens", "output_tokens", "latency_s")


@dataclass(frozen=True, slots=True)
class RoutingDataset:
    """N prompts × M models with every model's realised quality and cost.

    Attributes:
        prompt_ids: shape (N,), unique strings.
        prompts: the N prompt texts.
        categories: shape (N,) strings ("" when unknown).
        splits: shape (N,) strings ("" when the data has no split).
        models: the M model names.
        quality: shape (N, M), in [0, 1].
        cost_usd: shape (N, M), ≥ 0.
        input_tokens, output_tokens, latency_s: shape (N, M) or ``None`` when the data has none.
        repairs: what was repaired while loading, with counts; key -> count.
        source: where the rows came from (a path or a name).
    """

    prompt_ids: NDArray[np.object_]
    prompts: tuple[str, ...]
    categories: NDArray[np.object_]
    splits: NDArray[np.object_]
    models: tuple[str, ...]
    quality: NDArray[np.float64]
    cost_usd: NDArray[np.float64]
    input_tokens: NDArray[np.float64] | None = None
    output_tokens: NDArray[np.float64] | None = None
    latency_s: NDArray[np.float64] | None = None
    repairs: Mapping[str, int] = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return len(self.prompt_ids)

    @property
    def n_models(self) -> int:
        """M, the number of models."""
        return len(self.models)

    def validate(self) -> None:
        """Check shapes, ranges and uniqueness.

        Raises:
            SchemaError: naming the first bad field and entry.
        """
        n, m = len(self.prompt_ids), len(self.models)
        if n == 0 or m == 0:
            raise SchemaError(
                f"{self.source or 'dataset'}: needs at least one prompt and one model, got {n}×{m}"
            )
        if len(set(self.models)) != m:
            raise SchemaError(f"{self.source}: model names must be unique, got {self.models}")
        if len(set(self.prompt_ids.tolist())) != n:
            raise SchemaError(f"{self.source}: duplicate prompt_id")
        if len(self.prompts) != n or self.categories.shape != (n,) or self.splits.shape != (n,):
            raise SchemaError(f"{self.source}: prompts, categories and splits must have {n} entries")
        for name in ("quality", "cost_usd", *_OPTIONAL_NUM):
            arr = getattr(self, name)
            if arr is None:
                continue
            if arr.shape != (n, m):
                raise SchemaError(f"{self.source}: {name} must have shape ({n}, {m}), got {arr.shape}")
            bad = ~np.isfinite(arr) | (arr < 0)
            if name == "quality":
                bad |= arr > 1
            if bad.any():
                i, j = (int(k) for k in np.argwhere(bad)[0])
                want = "in [0, 1]" if name == "quality" else "a finite number ≥ 0"
                raise SchemaError(
                    f"{self.source}: {name} of prompt {self.prompt_ids[i]!r}, model {self.models[j]!r} "
                    f"must be {want}, got {arr[i, j]!r}"
                )

    def subset(self, mask: NDArray[np.bool_] | NDArray[np.int64]) -> RoutingDataset:
        """The prompts selected by a boolean mask (one entry per prompt) or an index array (models unchanged).

        Raises:
            ValidationError: a mask of another length, an index out of range, or neither a
                boolean mask nor whole-number indices.
        """
        idx = self._indices(mask)

        def take(a: NDArray[Any] | None) -> NDArray[Any] | None:
            return None if a is None else a[idx]

        return RoutingDataset(
            self.prompt_ids[idx],
            tuple(self.prompts[i] for i in idx),
            self.categories[idx],
            self.splits[idx],
            self.models,
            self.quality[idx],
            self.cost_usd[idx],
            take(self.input_tokens),
            take(self.output_tokens),
            take(self.latency_s),
            dict(self.repairs),
            self.source,
        )

    def _indices(self, mask: Any) -> NDArray[np.int64]:
        n = len(self)
        arr = np.asarray(mask)
        if arr.ndim != 1:
            raise ValidationError(
                f"subset: expected a 1-D boolean mask or index array, got shape {arr.shape}"
            )
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise ValidationError(
                    f"subset: a boolean mask needs one entry per prompt ({n}), got {arr.size}"
                )
            return np.flatnonzero(arr)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.dtype.kind not in "iu":
            raise ValidationError(
                f"subset: expected a boolean mask or whole-number indices, got {arr.dtype} values {mask!r:.60}"
            )
        out = arr.astype(np.int64)
        bad = (out < -n) | (out >= n)
        if bad.any():
            raise ValidationError(
                f"subset: index {int(out[bad][0])} is out of range for {n} prompts (valid: -{n} to {n - 1})"
            )
        return out

    def split(self, name: str) -> RoutingDataset:
        """The prompts whose split is ``name``.

        Raises:
            ValidationError: no prompt has that split (names the splits present).
        """
        if not isinstance(name, str):
            raise ValidationError(f"split: name must be text (str), got {type(name).__name__}")
        mask = self.splits == name
        if not mask.any():
            raise ValidationError(
                f"no prompt has split {name!r}; splits present: {sorted(set(self.splits.tolist()))}"
            )
        return self.subset(mask)

    def train_test(self, *, test_share: float = 0.3, seed: int = 0) -> tuple[RoutingDataset, RoutingDataset]:
        """The given split, or a seeded random one when the data has none; no row is dropped silently.

        * ``train`` + ``test`` (and optionally ``dev``/``valid``/``validation``): train = train ∪ dev
          (every setting is chosen by cross-validation inside train, so dev rows serve model
          selection there), test = test.
        * no split at all (every value ""): a seeded random ``test_share`` of the prompts is test.

        Raises:
            ValidationError: any other set of split values (e.g. only ``train``, or an unknown name),
                naming the values found and the ones understood; ``test_share`` not a number in
                (0, 1) or ``seed`` not a whole number ≥ 0 (checked even when the data has a split).
        """
        share = real("test_share", test_share, low=0.0, high=1.0, where="train_test", form="in (0, 1)")
        if not 0.0 < share < 1.0:
            raise ValidationError(f"train_test: test_share must be a finite number in (0, 1), got {share!r}")
        whole("seed", seed, low=0, where="train_test")
        have = set(self.splits.tolist())
        dev = have & set(DEV_SPLITS)
        if {"train", "test"} <= have and have <= {"train", "test", *DEV_SPLITS}:
            fit = self.splits == "train"
            for d in dev:
                fit = fit | (self.splits == d)
            return self.subset(fit), self.split("test")
        if have == {""}:
            rng = np.random.default_rng(seed)
            test = rng.random(len(self)) < share
            return self.subset(~test), self.subset(test)
        raise ValidationError(
            f"{self.source or 'dataset'}: split values {sorted(have)} are not understood; expected "
            f"'train' and 'test' (optionally {'/'.join(DEV_SPLITS)}, merged into train for the "
            "cross-validated selection) or no split at all (a seeded random test share is drawn)"
        )

    def with_models(self, models: Sequence[str]) -> RoutingDataset:
        """The same prompts restricted to ``models`` (in that order).

        Raises:
            ValidationError: a model is not in the data, a model repeats, no model is named, or
                ``models`` is a bare str.
        """
        if isinstance(models, (str, bytes)) or not isinstance(models, Sequence):
            raise ValidationError(f"with_models: models must be a list of model names, got {models!r:.60}")
        if len(models) == 0:
            raise ValidationError("with_models: models must name at least one model")
        dup = sorted({m for m in models if list(models).count(m) > 1}, key=str)
        if dup:
            raise ValidationError(
                f"with_models: model(s) {dup} named more than once; expected distinct names"
            )
        missing = [m for m in models if m not in self.models]
        if missing:
            raise ValidationError(f"{self.source}: no model(s) {missing}; models: {list(self.models)}")
        j = [self.models.index(m) for m in models]

        def take(a: NDArray[Any] | None) -> NDArray[Any] | None:
            return None if a is None else a[:, j]

        return RoutingDataset(
            self.prompt_ids,
            self.prompts,
            self.categories,
            self.splits,
            tuple(models),
            self.quality[:, j],
            self.cost_usd[:, j],
            take(self.input_tokens),
            take(self.output_tokens),
            take(self.latency_s),
            dict(self.repairs),
            self.source,
        )

    @classmethod
    def from_long(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        source: str = "",
        drop_incomplete: bool = False,
        repairs: Mapping[str, int] | None = None,
    ) -> RoutingDataset:
        """Pivot long rows (one per prompt × model) into a dataset.

        Args:
            rows: mappings with at least ``REQUIRED_COLUMNS``; row numbers in errors count from 1,
                unless a row carries ``_where`` (a loader's "file: line N"), which errors name instead.
            source: named in every error (a file path).
            drop_incomplete: drop prompts that lack some model's row (counted in ``repairs`` as
                ``dropped_incomplete_prompts``) instead of raising.
            repairs: repairs already made by the caller, carried into the result.

        Returns:
            The validated dataset, prompts in first-seen order, models in first-seen order.

        Raises:
            SchemaError: a required field is missing or malformed, a (prompt, model) pair repeats,
                a prompt's text, category or split differs between its rows, or (without
                ``drop_incomplete``) a prompt lacks some model.
        """
        where = source or "long rows"
        pid_index: dict[str, int] = {}
        model_index: dict[str, int] = {}
        meta: list[tuple[str, str, str]] = []
        cells: dict[tuple[int, int], tuple[float, float, float, float, float]] = {}
        present = dict.fromkeys(_OPTIONAL_NUM, False)
        if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
            raise SchemaError(
                f"{where}: rows must be an iterable of mappings (one per prompt × model), got {type(rows).__name__}"
            )
        for lineno, row in enumerate(rows, start=1):
            if not isinstance(row, Mapping):
                raise SchemaError(
                    f"{where}: row {lineno} must be a mapping of column -> value, got {type(row).__name__}"
                )
            at = str(row["_where"]) if "_where" in row else f"{where}: row {lineno}"
            for col in REQUIRED_COLUMNS:
                if (
                    col not in row
                    or row[col] is None
                    or (isinstance(row[col], str) and col != "prompt" and row[col] == "")
                ):
                    raise SchemaError(f"{at}: missing field {col!r} (required: {REQUIRED_COLUMNS})")
            if isinstance(row["prompt"], (bytes, bytearray)):
                raise SchemaError(f"{at}: prompt must be text, got bytes (decode it first)")
            pid, model = str(row["prompt_id"]), str(row["model"])
            q = _number(row["quality"], "quality", at)
            c = _number(row["cost_usd"], "cost_usd", at)
            if not 0.0 <= q <= 1.0:
                raise SchemaError(f"{at}: quality must be in [0, 1], got {q!r}")
            if c < 0 or not math.isfinite(c):
                raise SchemaError(f"{at}: cost_usd must be a finite number ≥ 0, got {c!r}")
            opt = []
            for col in _OPTIONAL_NUM:
                v = row.get(col)
                if v is None or v == "":
                    opt.append(math.nan)
                    continue
                x = _number(v, col, at)
                if x < 0 or not math.isfinite(x):
                    raise SchemaError(f"{at}: {col} must be a finite number ≥ 0, got {x!r}")
                present[col] = True
                opt.append(x)
            info = (str(row["prompt"]), str(row.get("category") or ""), str(row.get("split") or ""))
            i = pid_index.setdefault(pid, len(pid_index))
            if i == len(meta):
                meta.append(info)
            elif meta[i] != info:
                raise SchemaError(
                    f"{at}: prompt_id {pid!r} has a different prompt, category or split than its earlier rows"
                )
            j = model_index.setdefault(model, len(model_index))
            if (i, j) in cells:
                raise SchemaError(f"{at}: duplicate row for prompt_id {pid!r}, model {model!r}")
            cells[(i, j)] = (q, c, *opt)  # type: ignore[assignment]
        n, m = len(pid_index), len(model_index)
        if n == 0:
            raise SchemaError(f"{where}: no rows")
        grid = np.full((5, n, m), np.nan)
        for (i, j), vals in cells.items():
            grid[:, i, j] = vals
        complete = ~np.isnan(grid[0]).any(axis=1)
        rep = dict(repairs or {})
        models = tuple(model_index)
        pids = np.array(list(pid_index), dtype=object)
        if not complete.all():
            i = int(np.flatnonzero(~complete)[0])
            missing = [models[j] for j in np.flatnonzero(np.isnan(grid[0, i]))]
            if not drop_incomplete:
                raise SchemaError(
                    f"{where}: prompt_id {pids[i]!r} has no row for model(s) {missing} "
                    f"({int((~complete).sum())} prompts incomplete); every prompt needs every model"
                )
            rep["dropped_incomplete_prompts"] = rep.get("dropped_incomplete_prompts", 0) + int(
                (~complete).sum()
            )
        keep = np.flatnonzero(complete)
        if keep.size == 0:
            raise SchemaError(f"{where}: no prompt has a row for every model")
        opt_arrays: list[NDArray[np.float64] | None] = []
        for k, col in enumerate(_OPTIONAL_NUM, start=2):
            arr = grid[k][keep]
            if present[col] and np.isnan(arr).any():
                i, j = (int(x) for x in np.argwhere(np.isnan(arr))[0])
                raise SchemaError(
                    f"{where}: {col} is given for some rows but missing for prompt_id "
                    f"{pids[keep][i]!r}, model {models[j]!r}"
                )
            opt_arrays.append(arr if present[col] else None)
        ds = cls(
            pids[keep],
            tuple(meta[i][0] for i in keep),
            np.array([meta[i][1] for i in keep], dtype=object),
            np.array([meta[i][2] for i in keep], dtype=object),
            models,
            grid[0][keep],
            grid[1][keep],
            input_tokens=opt_arrays[0],
            output_tokens=opt_arrays[1],
            latency_s=opt_arrays[2],
            repairs=rep,
            source=where,
        )
        ds.validate()
        return ds

    def to_long(self) -> list[dict[str, Any]]:
        """The dataset as long rows (the inverse of ``from_long``)."""
        out = []
        for i in range(len(self)):
            for j, model in enumerate(self.models):
                row: dict[str, Any] = {
                    "prompt_id": self.prompt_ids[i],
                    "prompt": self.prompts[i],
                    "model": model,
                    "quality": float(self.quality[i, j]),
                    "cost_usd": float(self.cost_usd[i, j]),
                    "category": self.categories[i],
                    "split": self.splits[i],
                }
                for col in _OPTIONAL_NUM:
                    arr = getattr(self, col)
                    if arr is not None:
                        row[col] = float(arr[i, j])
                out.append(row)
        return out


def _number(value: Any, name: str, at: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SchemaError(f"{at}: {name} must be a number, got {value!r}") from None
