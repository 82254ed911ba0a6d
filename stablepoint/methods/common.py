"""Pieces shared by the methods: settings, unit-range scaling, and the exact greedy set of a monotone fit.

Every method's ``fit`` is wrapped by :func:`unit_range_fit` (the QMIX family's
shared entry point :func:`monotone_fit_result` does the same itself): it fits
the payoff divided by its power-of-two scale ``2**k`` (the *unit range* of
:mod:`stablepoint.tolerances`: spread max Y - min Y in [1, 2)) and reports
the result in the payoff's units (Q_tot and the other values times ``2**k``,
losses times ``4**k``).  The division is exact in binary, so every solve does
the same arithmetic at any scale and every tolerance and setting is in
unit-range units: greedy sets, stable kinds and certified flags of ``Y`` are
those of ``2**j * Y`` for every j, and, up to rounding of the inputs, of
``c * Y`` for every c > 0 (no overflow of squared losses at 1e308, no spurious
ties at 1e-300).

The greedy set of a QMIX-family method is computed exactly, ties kept, by
``top``-constrained projections: ``u`` is admitted iff the best loss with ``u``
forced greedy ties the global optimum (:func:`monotone_fit_result`).  This is
exact even when weights are zero and the projection's optimum is not unique.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, Iterable, Mapping

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.methods.base import Fit, FitResult
from stablepoint.payoff import Payoff
from stablepoint.projection import DEFAULT_SOLVER, SOLVERS, ideal_qmix
from stablepoint.projection import greedy_losses as batch_greedy_losses
from stablepoint.projection.result import STATUS_MESSAGES, greedy_of
from stablepoint.tolerances import LOSS_ATOL, LOSS_RTOL, VALUE_ATOL, from_unit, loss_close, scale_exponent, to_unit
from stablepoint.visitation import VISITATIONS, check_epsilon, visitation

#: ``losses`` settings of the QMIX-family methods: every constrained loss, or only the greedy set.
LOSS_MODES = ("all", "greedy")

__all__ = [
    "LOSS_MODES",
    "VisitationMethod",
    "MonotoneMethod",
    "check_visitation",
    "check_solver",
    "check_choice",
    "check_solver_options",
    "as_payoff",
    "unit_range_fit",
    "rescaled_fit_result",
    "tolerances_of",
    "monotone_fit_result",
    "jsonable",
]


def check_choice(setting: str, value, choices) -> str:
    """``value`` if it is one of ``choices``, else a SettingsError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise SettingsError(f"unknown {setting} {value!r}; choose one of: {', '.join(choices)}")
    return value


def check_visitation(name) -> str:
    """A visitation name of :data:`stablepoint.visitation.VISITATIONS`."""
    return check_choice("visitation", name, tuple(VISITATIONS))


def check_solver(name) -> str:
    """``"auto"`` or a solver registered in :data:`stablepoint.projection.SOLVERS` now."""
    return check_choice("solver", name, ("auto", *SOLVERS))


def check_solver_options(options) -> dict:
    """Keyword options for the projection solver, as a new dict."""
    if options is None:
        return {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise SettingsError(f"solver_options must be a mapping of option names to values, got {options!r}")
    return dict(options)


def as_payoff(payoff) -> Payoff:
    """A :class:`Payoff` from a Payoff or an array-like of values."""
    return payoff if isinstance(payoff, Payoff) else Payoff(payoff)


def _from_unit_info(value, k: int):
    """An ``info`` entry in payoff units: arrays and numbers times ``2**k``, sequences element-wise."""
    if isinstance(value, np.ndarray):
        out = from_unit(value, k)
        if not value.flags.writeable:
            out.setflags(write=False)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(_from_unit_info(v, k) for v in value)
    if isinstance(value, (float, np.floating)):
        return from_unit(float(value), k)
    return value


def rescaled_fit_result(result: FitResult, k: int, value_keys: Iterable[str] = ()) -> FitResult:
    """A FitResult computed on ``Y / 2**k`` in the units of ``Y``.

    ``loss`` and ``greedy_losses`` are multiplied by ``4**k``, every fit's
    ``q_tot`` by ``2**k`` and so are the ``info`` entries named in
    ``value_keys`` (those in payoff units; weights, orders and actions are
    unit-free).  Greedy sets, ``certified`` and ``message`` do not change.
    Overflow gives ``inf`` only where the true value is beyond float64.
    """
    if k == 0:
        return result
    keys = frozenset(value_keys)
    fits = tuple(
        Fit(
            q_tot=_from_unit_info(np.asarray(f.q_tot, dtype=np.float64), k),
            greedy=f.greedy,
            info={name: (_from_unit_info(v, k) if name in keys else v) for name, v in f.info.items()},
        )
        for f in result.fits
    )
    greedy_losses = None
    if result.greedy_losses is not None:
        greedy_losses = {u: from_unit(float(v), k, 2) for u, v in result.greedy_losses.items()}
    return dataclasses.replace(
        result, loss=from_unit(float(result.loss), k, 2), fits=fits, greedy_losses=greedy_losses
    )


def unit_range_fit(value_keys: Iterable[str] = ()):
    """Decorator for a method's ``fit(self, payoff, u_tilde)``: solve in unit range, report in payoff units.

    The wrapped ``fit`` receives a :class:`Payoff` divided by ``2**k``
    (:func:`stablepoint.tolerances.scale_exponent`; untouched when k = 0) and
    its result goes through :func:`rescaled_fit_result` with ``value_keys``,
    the ``info`` entries of the method's fits that are in payoff units.  So the
    method's tolerances and settings are in unit-range units and its answer is
    the same at every scale of the payoff (module notes).

    Examples
    --------
    >>> class Echo:
    ...     name = "echo"
    ...     @unit_range_fit(value_keys=("level",))
    ...     def fit(self, payoff, u):
    ...         y = payoff.values
    ...         return FitResult("echo", u, float(y.max() ** 2), frozenset({u}),
    ...                          (Fit(y, frozenset({u}), {"level": float(y.max())}),))
    >>> r = Echo().fit(np.array([[1e300, 0.0], [0.0, -3e299]]), (0, 0))
    >>> r.loss, r.fits[0].info["level"], float(r.fits[0].q_tot[0, 0])
    (inf, 1e+300, 1e+300)
    """
    keys = tuple(value_keys)

    def decorate(fit):
        @functools.wraps(fit)
        def wrapper(self, payoff, u_tilde):
            payoff = as_payoff(payoff)
            k = scale_exponent(payoff.values)
            if k == 0:
                return fit(self, payoff, u_tilde)
            unit = payoff.with_values(to_unit(payoff.values, k))
            return rescaled_fit_result(fit(self, unit, u_tilde), k, keys)

        wrapper.unit_range_value_keys = keys
        return wrapper

    return decorate


def tolerances_of(options: Mapping[str, Any]) -> tuple[float, float, float]:
    """``(loss_atol, loss_rtol, value_atol)`` from solver options, defaulting to :mod:`stablepoint.tolerances`."""
    return (
        float(options.get("loss_atol", LOSS_ATOL)),
        float(options.get("loss_rtol", LOSS_RTOL)),
        float(options.get("value_atol", VALUE_ATOL)),
    )


def jsonable(options: Mapping[str, Any]) -> dict:
    """The JSON-able part of a settings mapping (callbacks such as ``progress`` dropped)."""
    return {k: v for k, v in options.items() if isinstance(v, (str, int, float, bool, type(None)))}


def monotone_fit_result(
    method: str,
    y: np.ndarray,
    u_tilde,
    weights: np.ndarray,
    *,
    solver: str = "auto",
    solver_options: Mapping[str, Any] | None = None,
    losses: str = "all",
) -> FitResult:
    """Every optimal monotone fit of ``y`` under ``weights``, with the exact greedy set.

    One unconstrained projection gives the optimal loss; then, for every joint
    action u, the projection with ``top=u`` gives ``greedy_losses[u]``, and u is
    admitted iff that ties the optimum.  A u that an optimal fit of the
    unconstrained solve already makes greedy is not re-solved: that fit is
    feasible for ``top=u`` (order u_i last among its tied slices), so its loss is
    the constrained optimum.

    Parameters
    ----------
    method : str
        Name written into the result.
    y, weights : ndarray
        Target and loss weights (same shape).
    u_tilde : tuple of int
        Recorded in the result; the weights already depend on it.
    solver, solver_options
        Passed to :func:`stablepoint.projection.ideal_qmix`.
    losses : {"all", "greedy"}
        ``"all"`` computes the exact constrained loss of every u
        (``greedy_losses``).  ``"greedy"`` only decides which u tie the optimum:
        with the branch-and-bound solver each constrained search stops once its
        bound passes the optimum (:func:`stablepoint.projection.greedy_losses`
        with ``cutoff="optimum"``), and ``greedy_losses`` is None.  The greedy
        set is the same either way; other solvers always compute all losses.

    Examples
    --------
    >>> y = np.array([[8., -12, -12], [-12, 3, 0], [-12, 0, 5]])
    >>> res = monotone_fit_result("qmix", y, (0, 0), np.full((3, 3), 1 / 9), solver="cvxpy")
    >>> sorted(res.greedy_set), round(res.loss * 9, 6), round(res.greedy_losses[(0, 0)] * 9, 6)
    ([(2, 2)], 326.0, 410.0)

    ``y`` is solved in unit range (module notes) and the result reported in its units.
    """
    options = dict(solver_options or {})
    check_choice("losses", losses, LOSS_MODES)
    y = np.asarray(y.values if isinstance(y, Payoff) else y, dtype=np.float64)
    k = scale_exponent(y)
    if k != 0:
        # Unit range (module notes): solve Y / 2**k, report in Y's units, progress reports included.
        if callable(options.get("progress")):
            from stablepoint.projection.bnb import scaled_progress

            options["progress"] = scaled_progress(options["progress"], k)
        res = monotone_fit_result(method, to_unit(y, k), u_tilde, weights, solver=solver,
                                  solver_options=options, losses=losses)
        return rescaled_fit_result(res, k)
    if losses == "greedy" and (DEFAULT_SOLVER if solver == "auto" else solver) == "bnb":
        return _greedy_only_result(method, y, u_tilde, weights, solver, options)
    loss_atol, loss_rtol, value_atol = tolerances_of(options)
    base = ideal_qmix(y, weights, solver=solver, **options)
    constrained = {}
    greedy_losses = {}
    for u in itertools.product(*(range(s) for s in y.shape)):
        if u in base.greedy:
            greedy_losses[u] = base.loss
        else:
            constrained[u] = ideal_qmix(y, weights, top=u, solver=solver, **options)
            greedy_losses[u] = constrained[u].loss
    # Exact solvers make these equal; the min guards against a top solve beating the base one.
    best = min(base.loss, *greedy_losses.values())
    greedy_set = frozenset(
        u for u, loss in greedy_losses.items() if loss_close(loss, best, loss_atol, loss_rtol)
    )

    fits: list[Fit] = []
    covered: set = set()
    base_optimal = loss_close(base.loss, best, loss_atol, loss_rtol)
    for fit in base.fits if base_optimal else ():
        g = greedy_of(fit.q_tot, value_atol)
        fits.append(Fit(q_tot=fit.q_tot, greedy=g, info={"orders": fit.orders, "weights": weights}))
        covered |= g
    for u in sorted(greedy_set - covered):
        fit = constrained[u].fits[0]
        g = greedy_of(fit.q_tot, value_atol)
        fits.append(Fit(q_tot=fit.q_tot, greedy=g, info={"orders": fit.orders, "weights": weights, "top": u}))
        covered |= g
    results = [base, *constrained.values()]
    certified = all(r.certified for r in results)
    status = max(r.status for r in results)
    return FitResult(
        method=method,
        u_tilde=tuple(int(a) for a in u_tilde),
        loss=float(best),
        greedy_set=greedy_set,
        fits=tuple(fits),
        greedy_losses=greedy_losses,
        certified=certified,
        message=STATUS_MESSAGES[status],
    )


def _greedy_only_result(method, y, u_tilde, weights, solver, options) -> FitResult:
    """The exact greedy set from one batch of cut-off searches; fits only for the admitted actions."""
    loss_atol, loss_rtol, value_atol = tolerances_of(options)
    batch_options = {k: v for k, v in options.items() if k in ("time_limit", "loss_atol", "loss_rtol", "value_atol")}
    batch = batch_greedy_losses(y, weights, cutoff="optimum", **batch_options)
    fits: list[Fit] = []
    covered: set = set()
    for fit in batch.optimum.fits:
        g = greedy_of(fit.q_tot, value_atol)
        fits.append(Fit(q_tot=fit.q_tot, greedy=g, info={"orders": fit.orders, "weights": weights}))
        covered |= g
    certified = batch.certified
    for u in sorted(batch.greedy_set - covered):
        # A witness fit for an admitted action the unconstrained optimum does not show.
        res = ideal_qmix(y, weights, top=u, solver=solver, **options)
        g = greedy_of(res.fits[0].q_tot, value_atol)
        fits.append(Fit(q_tot=res.fits[0].q_tot, greedy=g, info={"orders": res.fits[0].orders, "weights": weights, "top": u}))
        covered |= g
        certified &= res.certified
    return FitResult(
        method=method,
        u_tilde=tuple(int(a) for a in u_tilde),
        loss=float(batch.loss),
        greedy_set=batch.greedy_set,
        fits=tuple(fits),
        greedy_losses=None,
        certified=certified,
        message=STATUS_MESSAGES[0 if certified else 1],
    )


def warm_up_fit(method, payoff) -> None:
    """One fit of ``method`` on a fixed 2 x ... x 2 payoff with ``payoff``'s number of agents.

    The branch-and-bound kernels are compiled (or loaded from numba's cache) at their first
    call; doing that once before forking row workers spares every worker the same wait.
    """
    n = as_payoff(payoff).n_agents
    values = np.linspace(-1.0, 1.0, 2 ** n).reshape((2,) * n)
    method.fit(Payoff(values), (0,) * n)


class VisitationMethod:
    """Shared settings of methods weighted only by the visitation around u~ (VDN, ResQ).

    Subclasses set ``name`` and implement ``fit``.
    """

    #: keyword settings of ``__init__`` (the CLI checks options against these).
    setting_names = ("visitation", "epsilon")

    def __init__(self, *, visitation="centralized", epsilon=1.0):
        self.visitation = check_visitation(visitation)
        self.epsilon = check_epsilon(epsilon)

    def settings(self) -> dict:
        """JSON-able settings."""
        return {"visitation": self.visitation, "epsilon": self.epsilon}

    def weights(self, payoff, u_tilde) -> np.ndarray:
        """Loss weights pi(. | u~)."""
        payoff = as_payoff(payoff)
        return visitation(self.visitation, payoff.shape, payoff.check_action(u_tilde), self.epsilon)


class MonotoneMethod:
    """Shared settings and fit of the Ideal-QMIX family (QMIX, WQMIX): subclasses define ``weights``."""

    def __init__(self, *, visitation="centralized", epsilon=1.0, solver="auto", solver_options=None, losses="all"):
        self.visitation = check_visitation(visitation)
        self.epsilon = check_epsilon(epsilon)
        self.solver = check_solver(solver)
        self.solver_options = check_solver_options(solver_options)
        self.losses = check_choice("losses", losses, LOSS_MODES)

    def settings(self) -> dict:
        """JSON-able settings."""
        return {
            "visitation": self.visitation,
            "epsilon": self.epsilon,
            "solver": self.solver,
            "solver_options": jsonable(self.solver_options),
            "losses": self.losses,
        }

    def weights(self, payoff, u_tilde) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def warm_up(self, payoff) -> None:
        """Load the compiled kernels with one fit of a 2 x ... x 2 payoff of as many agents (before forking workers)."""
        warm_up_fit(self, payoff)

    def fit(self, payoff, u_tilde) -> FitResult:
        """Every optimal fit of the weighted monotone loss given u~ and the exact greedy set.

        Solved in unit range by :func:`monotone_fit_result` (so that a solver
        ``progress`` callback gets payoff units too); the weights are unit-free
        (WQMIX's tie test is itself relative, :func:`~stablepoint.methods.wqmix.eq3_weights`).
        """
        payoff = as_payoff(payoff)
        u = payoff.check_action(u_tilde)
        return monotone_fit_result(
            self.name,
            payoff.values,
            u,
            self.weights(payoff, u),
            solver=self.solver,
            solver_options=self.solver_options,
            losses=self.losses,
        )
