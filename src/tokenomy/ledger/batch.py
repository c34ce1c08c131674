"""Columnar decision batches: N decisions over the same M candidate names, as numpy arrays.

The fast path for layers that decide many requests at once (``choose_many``): no Python object per
row. ``DecisionBatch.to_tables`` produces the Arrow tables the store appends in one transaction.
Resource prices (``ResourcePrice``) are shared by the batch: every row carries the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from tokenomy.core._checks import check_finite_array, check_nonneg_array
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceSource, ResourcePrice
from tokenomy.core.rule import NULL, surplus_matrix
from tokenomy.ledger import schema
from tokenomy.ledger.arguments import check_times, is_column, text_column
from tokenomy.ledger.kinds import validate_kind
from tokenomy.ledger.layers import Layer, as_layer
from tokenomy.ledger.metadata import metadata_json
from tokenomy.ledger.records import is_utf8

__all__ = ["DecisionBatch"]


@dataclass(frozen=True, slots=True)
class DecisionBatch:
    """N decisions of one layer at one decision point over the same M candidates.

    Attributes:
        request_ids: shape (N,), strings.
        layer, decision_point: shared by the batch.
        names: the M candidate names.
        dq, dc_usd, dl_s, dr, dr_irr: shape (N, M).
        chosen: shape (N,), candidate index or ``NULL`` (-1) for the null option.
        v_usd, lam_usd_per_s, rho_usd, rho_irr_usd: shape (N,).
        time_s: shape (N,).
        tenants: shape (N,) strings, or ``None`` for "".
        sources: PriceSource per price field (``v_source`` ... ``rho_irr_source``); key -> source.
        propensity: shape (N,) or ``None`` for 1.0.
        kind: what sort of decision (``kinds.KINDS``); "" infers it from ``decision_point``.
        resources: resource prices every row of the batch carries (``PriceVector.resources``).
        metadata: annotations every row of the batch carries, JSON-serialisable; key -> value.
        row_metadata: annotations that differ by row, shape (N,) each, merged over ``metadata`` (a
            key in both takes the row's value); key -> values. None: every row carries ``metadata``.
    """

    request_ids: Sequence[str] | NDArray[np.object_]
    layer: Layer
    decision_point: str
    names: tuple[str, ...]
    dq: NDArray[np.float64]
    dc_usd: NDArray[np.float64]
    dl_s: NDArray[np.float64]
    dr: NDArray[np.float64]
    dr_irr: NDArray[np.float64]
    chosen: NDArray[np.int64]
    v_usd: NDArray[np.float64]
    lam_usd_per_s: NDArray[np.float64]
    rho_usd: NDArray[np.float64]
    rho_irr_usd: NDArray[np.float64]
    time_s: NDArray[np.float64]
    tenants: Sequence[str] | NDArray[np.object_] | None = None
    sources: dict[str, PriceSource] | None = None
    propensity: NDArray[np.float64] | None = None
    kind: str = ""
    resources: tuple[ResourcePrice, ...] = ()
    metadata: Mapping[str, Any] | None = None
    row_metadata: Mapping[str, Sequence[Any] | NDArray[Any]] | None = None

    def __len__(self) -> int:
        return len(self.request_ids)

    def resolved_kind(self) -> str:
        """The batch's kind, inferred from ``decision_point`` when ``kind`` is "".

        Raises:
            ValidationError: the layer is unknown, or the kind is not valid for it.
        """
        return validate_kind(self.kind, as_layer(self.layer), self.decision_point, "DecisionBatch")

    def validate(self) -> None:
        """Raise ValidationError naming the first bad field (forms, shapes, NaN, negatives, chosen range,
        kind); text columns are checked as they are converted (``to_tables``)."""
        self._check_forms()
        self.resolved_kind()
        self._row_metadata_columns()
        typed = all(isinstance(r, ResourcePrice) for r in self.resources)
        names = [r.resource for r in self.resources] if typed else []
        if not typed or len(set(names)) != len(names):
            raise ValidationError(
                f"DecisionBatch.resources must be ResourcePrice values, one per resource name; got {self.resources!r}"
            )
        n, m = len(self.request_ids), len(self.names)
        if len(set(self.names)) != m:
            raise ValidationError(f"DecisionBatch candidate names must be unique, got {self.names}")
        for name in ("dq", "dc_usd", "dl_s", "dr", "dr_irr"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n, m):
                raise ValidationError(f"DecisionBatch.{name} must have shape ({n}, {m}), got {arr.shape}")
            (check_finite_array if name == "dq" else check_nonneg_array)(f"DecisionBatch.{name}", arr)
        for name in ("chosen", "v_usd", "lam_usd_per_s", "rho_usd", "rho_irr_usd", "time_s"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n,):
                raise ValidationError(f"DecisionBatch.{name} must have shape ({n},), got {arr.shape}")
            if name == "time_s":
                check_times("DecisionBatch.time_s", check_finite_array("DecisionBatch.time_s", arr))
            elif name != "chosen":
                check_nonneg_array(f"DecisionBatch.{name}", arr)
        if np.any((self.chosen < NULL) | (self.chosen >= m)):
            raise ValidationError(f"DecisionBatch.chosen must be -1 (null option) or in [0, {m})")
        if self.propensity is not None:
            prop = check_finite_array("DecisionBatch.propensity", self.propensity)
            if prop.shape != (n,) or np.any((prop <= 0.0) | (prop > 1.0)):
                raise ValidationError(
                    f"DecisionBatch.propensity must have shape ({n},) with every entry in (0, 1]"
                )
        if np.any(self.rho_irr_usd < self.rho_usd):
            raise ValidationError("DecisionBatch.rho_irr_usd must be ≥ rho_usd in every row")

    def _check_forms(self) -> None:
        """The Python form of each field that is not an array of numbers: one ValidationError naming it."""

        def bad(name: str, form: str) -> ValidationError:
            return ValidationError(f"DecisionBatch.{name} must be {form}; got {getattr(self, name)!r}")

        if not is_column(self.request_ids):
            raise bad("request_ids", "a list of strings, one per row")
        if self.tenants is not None and not is_column(self.tenants):
            raise bad("tenants", "None or a list of strings, one per row")
        if not is_utf8(self.decision_point) or not self.decision_point:
            raise bad("decision_point", "a non-empty string")
        if not isinstance(self.kind, str):
            raise bad("kind", 'a string ("" infers it from decision_point)')
        names = self.names
        if not isinstance(names, (tuple, list)) or not all(is_utf8(x) and x for x in names):
            raise bad("names", "a tuple of non-empty candidate names")
        if not isinstance(self.resources, (tuple, list)):
            raise bad("resources", "a tuple of ResourcePrice values")
        for name in ("sources", "metadata", "row_metadata"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), Mapping):
                raise bad(name, "None or a mapping (key -> value)")

    def _row_metadata_columns(self) -> dict[str, list[Any]]:
        """``metadata`` checked and ``row_metadata`` as lists, one per key (one JSON pass per column).

        Raises:
            ValidationError: a value is not JSON-serialisable, or a ``row_metadata`` column is not (N,).
        """
        metadata_json(self.metadata or {}, "DecisionBatch")
        n = len(self.request_ids)
        cols: dict[str, list[Any]] = {}
        if self.row_metadata is not None and not isinstance(self.row_metadata, Mapping):
            raise ValidationError(
                f"DecisionBatch.row_metadata must map a key to one value per row; got {self.row_metadata!r}"
            )
        for key, values in (self.row_metadata or {}).items():
            if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
                raise ValidationError(
                    f"DecisionBatch.row_metadata[{key!r}] must hold one value per row, shape ({n},); "
                    f"got {values!r}"
                )
            shape = np.shape(values) if isinstance(values, np.ndarray) else (len(values),)
            if shape != (n,):
                raise ValidationError(
                    f"DecisionBatch.row_metadata[{key!r}] must hold one value per row, shape ({n},); got {shape}"
                )
            col = values.tolist() if isinstance(values, np.ndarray) else list(values)
            metadata_json({key: col}, "DecisionBatch.row_metadata")  # every row's value, at once
            cols[key] = col
        return cols

    def _metadata_column(self) -> pa.Array:
        """The ``metadata`` column: one JSON text for every row, or each row's own (``row_metadata``);
        the batch is validated first (:meth:`validate`)."""
        n = len(self.request_ids)
        if not self.row_metadata:
            return pa.repeat(pa.scalar(metadata_json(self.metadata or {}, "DecisionBatch"), pa.string()), n)
        cols = self._row_metadata_columns()
        shared = dict(self.metadata or {})
        texts = [
            metadata_json({**shared, **{k: c[i] for k, c in cols.items()}}, "DecisionBatch.row_metadata")
            for i in range(n)
        ]
        return pa.array(texts, pa.string())

    def to_tables(self, first_seq: int) -> tuple[pa.Table, pa.Table, pa.Table]:
        """Arrow tables (decisions, candidates, resource prices) for rows numbered from ``first_seq``."""
        n, m = len(self.request_ids), len(self.names)
        seq = np.arange(first_seq, first_seq + n, dtype=np.int64)
        chosen = np.asarray(self.chosen, dtype=np.int64)
        names = pa.array(list(self.names), pa.string())
        # Strings are built in Arrow's C++ kernels (dictionary decode, repeat, join), not per Python object:
        # the 1M-row append is dominated by these columns otherwise.
        chosen_name = (
            pa.DictionaryArray.from_arrays(
                pa.array(np.maximum(chosen, 0).astype(np.int32), mask=chosen < 0), names
            ).cast(pa.string())
            if m
            else pa.nulls(n, pa.string())
        )
        src = dict.fromkeys(("v_source", "lam_source", "rho_source", "rho_irr_source"), PriceSource.DEFAULT)
        src.update(self.sources or {})

        def const(value: str) -> pa.Array:
            return pa.repeat(pa.scalar(value, pa.string()), n)

        def strings(name: str, values: Sequence[str] | NDArray[np.object_]) -> pa.Array:
            return text_column(f"DecisionBatch.{name}", values, n)

        decision_ids = pc.binary_join_element_wise("d", pc.cast(pa.array(seq), pa.string()), "")
        decisions = pa.table(
            {
                "seq": seq,
                "decision_id": decision_ids,
                "time_s": np.asarray(self.time_s, np.float64),
                "request_id": text_column("DecisionBatch.request_ids", self.request_ids, n, ids=True),
                "tenant": const("") if self.tenants is None else strings("tenants", self.tenants),
                "layer": const(Layer(self.layer).value),
                "decision_point": const(self.decision_point),
                "chosen_index": pa.array(np.where(chosen >= 0, chosen, 0).astype(np.int32), mask=chosen < 0),
                "chosen_name": chosen_name,
                "n_candidates": np.full(n, m, np.int32),
                "propensity": np.ones(n)
                if self.propensity is None
                else np.asarray(self.propensity, np.float64),
                "v_usd": np.asarray(self.v_usd, np.float64),
                "lam_usd_per_s": np.asarray(self.lam_usd_per_s, np.float64),
                "rho_usd": np.asarray(self.rho_usd, np.float64),
                "rho_irr_usd": np.asarray(self.rho_irr_usd, np.float64),
                **{k: const(PriceSource(v).value) for k, v in src.items()},
                "metadata": self._metadata_column(),
                "kind": const(self.resolved_kind()),
                "prices_time_s": pa.nulls(n, pa.float64()),
            },
            schema=schema.DECISIONS,
        )
        s = surplus_matrix(
            self.v_usd,
            self.dq,
            self.dc_usd,
            self.dl_s,
            self.dr,
            self.dr_irr,
            lam_usd_per_s=self.lam_usd_per_s,
            rho_usd=self.rho_usd,
            rho_irr_usd=self.rho_irr_usd,
            validate=False,
        )
        candidates = pa.table(
            {
                "decision_seq": np.repeat(seq, m),
                "idx": np.tile(np.arange(m, dtype=np.int32), n),
                "name": pa.DictionaryArray.from_arrays(
                    pa.array(np.tile(np.arange(m, dtype=np.int32), n)), names
                ).cast(pa.string()),
                "dq": np.asarray(self.dq, np.float64).ravel(),
                "dc_usd": np.asarray(self.dc_usd, np.float64).ravel(),
                "dl_s": np.asarray(self.dl_s, np.float64).ravel(),
                "dr": np.asarray(self.dr, np.float64).ravel(),
                "dr_irr": np.asarray(self.dr_irr, np.float64).ravel(),
                "surplus_usd": s.ravel(),
            },
            schema=schema.CANDIDATES,
        )
        return decisions, candidates, self._resource_table(seq, decision_ids)

    def _resource_table(self, seq: NDArray[np.int64], decision_ids: pa.Array) -> pa.Table:
        k, n = len(self.resources), seq.size
        rows = [r.as_dict() for r in self.resources]
        return pa.table(
            {
                "decision_seq": np.repeat(seq, k),
                "idx": np.tile(np.arange(k, dtype=np.int32), n),
                "decision_id": pc.take(decision_ids, pa.array(np.repeat(np.arange(n), k))),
                **{
                    f: pa.array([r[f] for r in rows] * n, schema.RESOURCE_PRICES.field(f).type)
                    for f in ("resource", "usd_per_unit", "unit", "source", "time_s")
                },
            },
            schema=schema.RESOURCE_PRICES,
        )
