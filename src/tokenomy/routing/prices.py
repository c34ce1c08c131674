"""A dated per-model price table: USD per million input and output tokens (the ĉ part of Eq. 4).

Holds values only; the file is parsed by ``tokenomy.interfaces.loaders.routing.load_price_table``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core.errors import ValidationError

__all__ = ["PriceTable"]


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Per-model token prices.

    Attributes:
        usd_per_mtok: model -> (input USD per million tokens, output USD per million tokens).
        date: the date the prices were in force (ISO), "" when unknown.
        source: where the table came from.
    """

    usd_per_mtok: Mapping[str, tuple[float, float]]
    date: str = ""
    source: str = ""

    def require(self, models: Sequence[str]) -> None:
        """Raise unless every model has a price.

        Raises:
            ValidationError: naming the models absent from the table and the table's source.
        """
        missing = [m for m in models if m not in self.usd_per_mtok]
        if missing:
            raise ValidationError(
                f"model(s) {missing} absent from the price table {self.source or '(unnamed)'} "
                f"(dated {self.date or '?'}); it prices {sorted(self.usd_per_mtok)}"
            )

    def per_token(self, models: Sequence[str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(input, output) USD per token for each model, shape (M,) each."""
        self.require(models)
        arr = np.array([self.usd_per_mtok[m] for m in models], dtype=np.float64) / 1e6
        return arr[:, 0].copy(), arr[:, 1].copy()

    def cost_usd(
        self, models: Sequence[str], input_tokens: ArrayLike, output_tokens: ArrayLike
    ) -> NDArray[np.float64]:
        """Tokens × prices, broadcast to (N, M).

        Raises:
            ValidationError: a model is not priced.
        """
        pin, pout = self.per_token(models)
        return np.asarray(input_tokens, np.float64) * pin + np.asarray(output_tokens, np.float64) * pout
