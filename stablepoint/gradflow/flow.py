"""Integrate the true or the semi-gradient flow with ``scipy.integrate.solve_ivp``.

One trajectory starts at x0 = (q0, theta0) and runs until the field's norm
drops below ``gtol`` (a terminal event: "converged") or ``t_max`` is reached
(status 0, "not converged", not an error).  Its summary holds the final greedy
joint action, IGM consistency, the final losses and the time to converge.
Every :class:`Trajectory` records which flow (``true`` or ``semi``) made it.

Small tau makes the flow stiff (the policy term scales like 1/tau), so the
default solver is LSODA, which switches between explicit and implicit steps;
any ``solve_ivp`` method name can be passed (RK45, Radau, BDF, ...).

>>> from stablepoint.catalog import get_game
>>> from stablepoint.gradflow.loss import LossModel
>>> model = LossModel(get_game("game-a"), "vdn", tau=1.0)
>>> traj = integrate(model, [0.5, 0, 0, 0.5, 0, 0], FlowSettings(gradient="semi", t_max=50))
>>> traj.gradient, traj.greedy, traj.optimal, traj.message
('semi', (0, 0), True, 'not converged: reached t_max')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.integrate import solve_ivp

from stablepoint.errors import SettingsError
from stablepoint.gradflow.fastfield import Evaluator
from stablepoint.gradflow.loss import LossModel, check_gradient

__all__ = [
    "FlowSettings",
    "Trajectory",
    "FlowBatch",
    "STATUS_MESSAGES",
    "integrate",
    "initial_states",
    "run_flows",
    "greedy_margins",
    "greedy_path",
]

#: solve_ivp methods accepted by name.
METHODS = ("LSODA", "RK45", "RK23", "DOP853", "Radau", "BDF")

#: Trajectory status -> text (negative: the solver failed).
STATUS_MESSAGES = {
    1: "converged: field norm below gtol",
    0: "not converged: reached t_max",
    -1: "integration failed",
}


@dataclass(frozen=True)
class FlowSettings:
    """How to integrate one flow.

    Attributes
    ----------
    gradient : {"true", "semi"}
        ``true``: dx/dt = -grad L_tau with the policy differentiated (Eq. 17);
        ``semi``: the policy is held fixed while differentiating.
    t_max : float
        Integration horizon.
    gtol : float
        Convergence: the field's Euclidean norm falls below this.
    method : str
        A ``solve_ivp`` method; LSODA handles the stiffness of small tau.
    rtol, atol : float
        Solver tolerances.
    n_samples : int
        Points of the stored curves (log-spaced in time, plus t = 0).
    backend : {"auto", "numpy", "torch"}
        ``auto`` uses the closed-form numpy field for built-in mixers.
    """

    gradient: str = "true"
    t_max: float = 1000.0
    gtol: float = 1e-3
    method: str = "LSODA"
    rtol: float = 1e-6
    atol: float = 1e-8
    n_samples: int = 60
    backend: str = "auto"

    def __post_init__(self):
        check_gradient(self.gradient)
        if not self.t_max > 0:
            raise SettingsError(f"t_max must be > 0, got {self.t_max}")
        if not self.gtol > 0:
            raise SettingsError(f"gtol must be > 0, got {self.gtol}")
        if self.method not in METHODS:
            raise SettingsError(f"unknown ODE method {self.method!r}; choose one of: {', '.join(METHODS)}")
        if self.n_samples < 2:
            raise SettingsError(f"n_samples must be >= 2, got {self.n_samples}")
        if self.backend not in ("auto", "numpy", "torch"):
            raise SettingsError(f"unknown backend {self.backend!r}; choose one of: auto, numpy, torch")


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One integrated flow and its summary.

    Attributes
    ----------
    gradient : str
        ``true`` or ``semi``: which flow produced it.
    tau : float or None
    x0, x_final : ndarray, shape (dim,)
    t : ndarray, shape (n_t,)
        Sample times (log-spaced; the last one is the end time).
    loss : ndarray, shape (n_t,)
        L_tau along the samples.
    q_path : ndarray, shape (n_t, n_q)
        The utilities q along the samples.
    greedy : tuple of int
        Final per-agent greedy joint action g (0-based).
    igm_consistent : bool
        g is an arg-max of the final Q_tot (the IGM condition, Eq. 5).
    optimal : bool
        g is the payoff's optimal joint action u* (the paper's IGM-consistent fixed point).
    final_loss, uniform_loss, max_residual, field_norm : float
        L_tau, L_0, max_a |y(a) - Q_tot(a)| and |dx/dt| at the end.
    converged : bool
    t_converge : float or None
        When the field norm first fell below gtol.
    status : int
        Key of :data:`STATUS_MESSAGES`.
    nfev : int
    """

    gradient: str
    tau: float | None
    x0: np.ndarray
    x_final: np.ndarray
    t: np.ndarray
    loss: np.ndarray
    q_path: np.ndarray
    greedy: tuple
    igm_consistent: bool
    optimal: bool
    final_loss: float
    uniform_loss: float
    max_residual: float
    field_norm: float
    converged: bool
    t_converge: float | None
    status: int
    nfev: int

    @property
    def message(self) -> str:
        return STATUS_MESSAGES[self.status]


def _sample_times(t_max: float, n: int) -> np.ndarray:
    lo = min(1e-2, t_max / 10.0)
    t = np.concatenate([[0.0], np.logspace(math.log10(lo), math.log10(t_max), n - 1)])
    t[-1] = t_max  # logspace may overshoot t_span by an ulp
    return np.minimum(t, t_max)


def _summarize_end(model: LossModel, ev: Evaluator, x, kind):
    greedy = model.greedy(x)
    qt = ev.q_tot(x)
    best = qt.max()
    igm = bool(qt[greedy] >= best - 1e-9 * max(1.0, abs(best)))
    optimal = greedy in model.payoff.optimal_actions()
    loss, max_res, l0 = ev.loss_terms(x)
    return greedy, igm, optimal, loss, l0, max_res, float(np.linalg.norm(ev.field(x, kind)))


def integrate(model: LossModel, x0, settings: FlowSettings = FlowSettings(), *,
              evaluator: Evaluator | None = None) -> Trajectory:
    """Integrate one trajectory of the chosen flow from ``x0``.

    Parameters
    ----------
    model : LossModel
    x0 : array_like, shape (model.dim,)
    settings : FlowSettings
    evaluator : Evaluator, optional
        Reuse a prepared evaluator across trajectories.

    Returns
    -------
    Trajectory
        Non-convergence is a status (0), not an exception.
    """
    x0 = model.to_tensor(x0).cpu().numpy().copy()
    ev = evaluator or Evaluator(model, settings.backend)
    kind = settings.gradient
    cache = {"x": None, "f": None}

    def f(t, x):
        if cache["x"] is not None and np.array_equal(cache["x"], x):
            return cache["f"]
        out = ev.field(x, kind)
        cache["x"], cache["f"] = np.array(x), out
        return out

    def converged(t, x):
        # the root finder lands on the threshold itself; aim just below so |F| < gtol holds
        return float(np.linalg.norm(f(t, x))) - (1.0 - 1e-3) * settings.gtol

    converged.terminal = True
    converged.direction = -1
    if np.linalg.norm(ev.field(x0, kind)) < settings.gtol:
        loss0 = ev.loss_terms(x0)[0]
        greedy, igm, optimal, loss, l0, max_res, fnorm = _summarize_end(model, ev, x0, kind)
        return Trajectory(
            gradient=kind, tau=model.tau, x0=x0, x_final=x0.copy(), t=np.zeros(1), loss=np.array([loss0]),
            q_path=x0[None, : model.n_q].copy(), greedy=greedy, igm_consistent=igm, optimal=optimal,
            final_loss=loss, uniform_loss=l0, max_residual=max_res, field_norm=fnorm, converged=True,
            t_converge=0.0, status=1, nfev=1,
        )
    t_eval = _sample_times(settings.t_max, settings.n_samples)
    sol = solve_ivp(f, (0.0, settings.t_max), x0, method=settings.method, t_eval=t_eval,
                    events=converged, rtol=settings.rtol, atol=settings.atol)
    if sol.status == 1 and sol.t_events[0].size:
        t_end, x_end, status = float(sol.t_events[0][0]), sol.y_events[0][0], 1
    elif sol.status == 0:
        t_end, x_end, status = float(sol.t[-1]), sol.y[:, -1], 0
    else:
        t_end = float(sol.t[-1]) if sol.t.size else 0.0
        x_end, status = (sol.y[:, -1] if sol.t.size else x0), -1
    times = np.append(sol.t[sol.t < t_end], t_end)
    states = np.column_stack([sol.y[:, sol.t < t_end], x_end]).T
    losses = np.array([ev.loss_terms(x)[0] for x in states])
    greedy, igm, optimal, loss, l0, max_res, fnorm = _summarize_end(model, ev, x_end, kind)
    return Trajectory(
        gradient=kind, tau=model.tau, x0=x0, x_final=np.array(x_end), t=times, loss=losses,
        q_path=states[:, : model.n_q].copy(), greedy=greedy, igm_consistent=igm, optimal=optimal,
        final_loss=loss, uniform_loss=l0, max_residual=max_res, field_norm=fnorm,
        converged=status == 1, t_converge=t_end if status == 1 else None, status=status,
        nfev=int(sol.nfev),
    )


def initial_states(model: LossModel, n_runs: int, seed: int = 0, q_scale: float = 1.0) -> np.ndarray:
    """Random initial conditions, shape (n_runs, dim): q ~ N(0, q_scale^2), theta from the mixer.

    The same ``seed`` gives the same q0 for every tau and flow, and the same raw
    theta0 for mixers of equal size (the monotone and unconstrained MLP), so
    outcomes are paired across settings.
    """
    if n_runs < 1:
        raise SettingsError(f"number of runs must be >= 1, got {n_runs}")
    seeds = np.random.SeedSequence(seed).spawn(n_runs)
    rows = []
    for s in seeds:
        rng = np.random.default_rng(s)
        q0 = rng.normal(0.0, q_scale, model.n_q)
        theta0 = model.mixer.init_params(int(rng.integers(2**31)), dtype=model.dtype).cpu().numpy()
        rows.append(np.concatenate([q0, theta0]))
    return np.array(rows)


@dataclass(frozen=True, eq=False)
class FlowBatch:
    """Trajectories from a batch of random initial conditions, with fractions.

    Attributes
    ----------
    gradient : str
    tau : float or None
    mixer : str
    trajectories : tuple of Trajectory
    shape : tuple of int
        The game's shape (actions per agent).
    optima : tuple of joint actions
        The payoff's optimal joint actions u*.
    """

    gradient: str
    tau: float | None
    mixer: str
    trajectories: tuple
    shape: tuple = ()
    optima: tuple = ()

    @property
    def n_runs(self) -> int:
        return len(self.trajectories)

    @property
    def n_converged(self) -> int:
        return sum(t.converged for t in self.trajectories)

    def fraction(self, attribute: str, converged_only: bool = True) -> float:
        """Share of (converged) trajectories whose boolean ``attribute`` is true; NaN if none."""
        pool = [t for t in self.trajectories if t.converged or not converged_only]
        if not pool:
            return float("nan")
        return sum(bool(getattr(t, attribute)) for t in pool) / len(pool)

    def greedy_counts(self) -> dict:
        """Final greedy joint action -> number of trajectories."""
        counts: dict = {}
        for t in self.trajectories:
            counts[t.greedy] = counts.get(t.greedy, 0) + 1
        return dict(sorted(counts.items()))


def _integrate_chunk(model: LossModel, x0s, settings: FlowSettings) -> list:
    ev = Evaluator(model, settings.backend)
    return [integrate(model, x0, settings, evaluator=ev) for x0 in x0s]


def run_flows(model: LossModel, x0s: Sequence, settings: FlowSettings = FlowSettings(), *,
              workers: int = 1, progress: Callable[[int, int], None] | None = None) -> FlowBatch:
    """Integrate one trajectory per row of ``x0s``; ``progress(done, total)`` after each.

    ``workers > 1`` spreads the trajectories over that many processes (the
    integrator itself is serial); results keep the order of ``x0s``.
    """
    x0s = np.atleast_2d(np.asarray(x0s, dtype=np.float64))
    if workers < 1:
        raise SettingsError(f"workers must be >= 1, got {workers}")
    out: list = []
    if workers == 1 or len(x0s) == 1:
        ev = Evaluator(model, settings.backend)
        for k, x0 in enumerate(x0s):
            out.append(integrate(model, x0, settings, evaluator=ev))
            if progress is not None:
                progress(k + 1, len(x0s))
    else:
        from concurrent.futures import ProcessPoolExecutor

        chunks = [c for c in np.array_split(x0s, min(len(x0s), 4 * workers)) if len(c)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_integrate_chunk, model, c, settings) for c in chunks]
            done = 0
            for fut in futures:
                part = fut.result()
                out.extend(part)
                done += len(part)
                if progress is not None:
                    progress(done, len(x0s))
    return FlowBatch(settings.gradient, model.tau, model.mixer.name, tuple(out), model.payoff.shape,
                     tuple(model.payoff.optimal_actions()))


def greedy_margins(shape, u_star, q_path: np.ndarray, agents: tuple = (0, 1)) -> np.ndarray:
    """A 2-D projection of q: for two agents, Q_i(u*_i) - max_{b != u*_i} Q_i(b).

    Both coordinates positive means both agents prefer their part of the
    optimal joint action u*; returns shape (n_t, 2).

    >>> greedy_margins((2, 2), (0, 0), [[1.0, 0.0, -1.0, 0.5]]).tolist()
    [[1.0, -1.5]]
    """
    q_path = np.atleast_2d(np.asarray(q_path, dtype=float))
    starts = np.concatenate([[0], np.cumsum(shape)[:-1]])
    cols = []
    for i in agents:
        qi = q_path[:, starts[i] : starts[i] + shape[i]]
        others = np.delete(qi, u_star[i], axis=1)
        cols.append(qi[:, u_star[i]] - others.max(axis=1))
    return np.column_stack(cols)


def greedy_path(shape, q_path: np.ndarray) -> list:
    """The per-agent greedy joint action at every row of ``q_path``."""
    q_path = np.atleast_2d(np.asarray(q_path, dtype=float))
    starts = np.concatenate([[0], np.cumsum(shape)[:-1]])
    idx = [np.argmax(q_path[:, s : s + n], axis=1) for s, n in zip(starts, shape)]
    return [tuple(int(a) for a in row) for row in np.column_stack(idx)]
