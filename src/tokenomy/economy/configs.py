"""The configurations compared on the same requests and seeds: which price each layer reads.

A ``Config`` says, per layer, whether it optimises its own local metric (``local``) or reads the one
shared price vector on the bus (``shared``), plus two distortions of what the readers see: a lag
(``lag_s``: the bus as it was that many seconds ago) and a misprice (``price_scale``: every price
read from the bus, and the λ handed to the scheduler, multiplied). Realised welfare is always scored
at the true prices. ``refuse`` says whether the router may decline a request (the null option); by
default the shared router may (Eq. 4 with the null option) and the local cost-min router may not.

    local          router cost-min (τ on train), agent best step cap, serving FCFS/priority + wait cap
    shared         Eq. 4 router, marginal agent, congestion-priced serving, all reading one bus
    stale          shared, readers lagging the bus by 30 s
    local-router   shared, but the router is cost-min      (and likewise local-serving, local-agent)
    misprice-0.1   shared, every price read ×0.1           (and misprice-10: ×10)
    shared-no-refuse  shared, but the router must route every request (argmax over models, no null)
    local-refuse      local, plus a value-blind refusal: decline when the cost-min model's ĉ/q̂ is
                      above a bar tuned on train (``training.tune_refusal``)

``shared − shared-no-refuse`` is the part of the gain that comes from declining low-value work;
``shared-no-refuse − local`` the part that comes from choosing models for the work that is served.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenomy.core.errors import ValidationError

__all__ = ["CONFIGS", "DEFAULT_CONFIGS", "LOCAL_CONFIG", "Config", "parse_configs"]

LOCAL, SHARED = "local", "shared"


@dataclass(frozen=True, slots=True)
class Config:
    """One configuration of the composed system.

    Attributes:
        name: registry name.
        router, agent, serving: ``"local"`` or ``"shared"`` each.
        lag_s: readers see the bus as it was ``lag_s`` seconds ago (0 = fresh).
        price_scale: every price read is multiplied by this (1 = true prices).
        refuse: the router may decline a request; ``None`` = its default (shared yes, local no).
    """

    name: str
    router: str = SHARED
    agent: str = SHARED
    serving: str = SHARED
    lag_s: float = 0.0
    price_scale: float = 1.0
    refuse: bool | None = None

    def __post_init__(self) -> None:
        for layer in ("router", "agent", "serving"):
            if getattr(self, layer) not in (LOCAL, SHARED):
                raise ValidationError(
                    f"Config.{layer} must be 'local' or 'shared', got {getattr(self, layer)!r}"
                )
        if self.lag_s < 0 or not self.price_scale > 0:
            raise ValidationError(
                f"Config needs lag_s ≥ 0 and price_scale > 0; got {self.lag_s!r}, {self.price_scale!r}"
            )

    @property
    def any_local(self) -> bool:
        """True when some layer runs its local optimiser."""
        return LOCAL in (self.router, self.agent, self.serving)

    @property
    def router_refuses(self) -> bool:
        """True when the router may decline a request (``refuse``, else the shared router only)."""
        return self.router == SHARED if self.refuse is None else self.refuse


CONFIGS: dict[str, Config] = {
    c.name: c
    for c in (
        Config("local", LOCAL, LOCAL, LOCAL),
        Config("shared"),
        Config("stale", lag_s=30.0),
        Config("local-router", router=LOCAL),
        Config("local-serving", serving=LOCAL),
        Config("local-agent", agent=LOCAL),
        Config("misprice-0.1", price_scale=0.1),
        Config("misprice-10", price_scale=10.0),
        Config("shared-no-refuse", refuse=False),
        Config("local-refuse", LOCAL, LOCAL, LOCAL, refuse=True),
    )
}
"""Registry: name -> configuration."""

LOCAL_CONFIG = CONFIGS[LOCAL]
"""Every layer on its local optimiser (the baseline the local serving layer is tuned under)."""

DEFAULT_CONFIGS = ("local", "shared")


def parse_configs(text: str) -> list[Config]:
    """A comma list of registry names (``all`` for every one), ``local`` and ``shared`` always first.

    A name given twice is kept once; empty entries between commas are skipped (the CLI refuses both).

    Raises:
        ValidationError: ``text`` is not a string, an unknown name (the message lists the valid ones)
            or an empty list.
    """
    if not isinstance(text, str):
        raise ValidationError(f"--configs must be a comma list of names (a string), got {text!r:.80}")
    names = list(CONFIGS) if text.strip() == "all" else [x.strip() for x in text.split(",") if x.strip()]
    bad = [n for n in names if n not in CONFIGS]
    if bad or not names:
        raise ValidationError(
            f"--configs: unknown configuration {bad[0] if bad else text!r}; expected a comma list of "
            f"{', '.join(CONFIGS)} (or 'all')"
        )
    ordered = [n for n in DEFAULT_CONFIGS if n in names] + [n for n in names if n not in DEFAULT_CONFIGS]
    return [CONFIGS[n] for n in dict.fromkeys(ordered)]
