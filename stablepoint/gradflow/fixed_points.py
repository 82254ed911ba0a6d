"""Zero-loss points x* = (q*, theta*) with a chosen per-agent greedy joint action.

A point of the zero-loss set M (Eq. 18) fits every joint action exactly,
Q_tot(a; x*) = y(a); it is a fixed point of both flows for every tau, since
the loss and both fields vanish wherever the residual does.  M does not depend
on tau (the softmax weights are positive), which is why one search serves
Theorems 1-3.

The search fixes q with the requested greedy action (each agent's greedy
utility ``margin`` above its best alternative) and solves the underdetermined
system Q_tot(a; q, theta) = y(a) for theta by minimum-norm Gauss-Newton steps
with a backtracking line search, from several random theta.  Mixers without
parameters (VDN) move q instead, and the greedy action is checked afterwards.

>>> from stablepoint.catalog import get_game
>>> from stablepoint.gradflow.loss import LossModel
>>> model = LossModel(get_game("game-a"), "nonmono", tau=0.1)
>>> point = find_zero_loss_point(model, (1, 1), seed=0)
>>> point.greedy, point.optimal, point.max_residual < 1e-9
((1, 1), False, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from stablepoint.errors import SettingsError
from stablepoint.gradflow.loss import LossModel

__all__ = ["ZeroLossPoint", "find_zero_loss_point", "check_greedy"]


@dataclass(frozen=True, eq=False)
class ZeroLossPoint:
    """A point of the zero-loss set M.

    Attributes
    ----------
    x : ndarray, shape (dim,)
        The state (q*, theta*).
    greedy : tuple of int
        Per-agent greedy joint action g(q*), 0-based.
    optimal : bool
        g(q*) equals the payoff's optimal joint action u* (the paper's IGM-consistent case).
    max_residual : float
        max_a |y(a) - Q_tot(a; x*)|.
    greedy_gap : float
        Smallest margin between an agent's greedy and second-best utility (H1).
    iterations : int
        Gauss-Newton iterations of the successful start.
    start : int
        Index of the successful random start.
    """

    x: np.ndarray
    greedy: tuple
    optimal: bool
    max_residual: float
    greedy_gap: float
    iterations: int
    start: int


def check_greedy(model: LossModel, greedy) -> tuple:
    """Validate a 0-based greedy joint action against the game's shape."""
    try:
        g = tuple(int(a) for a in greedy)
    except (TypeError, ValueError):
        raise SettingsError(f"greedy action {greedy!r} is not a sequence of integers") from None
    shape = model.payoff.shape
    if len(g) != len(shape) or any(not 0 <= a < s for a, s in zip(g, shape)):
        shown = tuple(a + 1 for a in g)
        raise SettingsError(f"greedy action {shown} (1-based) is out of range for a game of shape {shape}")
    return g


def _q_with_greedy(model: LossModel, greedy, rng, margin, scale):
    parts = []
    for g, size in zip(greedy, model.payoff.shape):
        qi = rng.normal(0.0, scale, size)
        others = np.delete(qi, g)
        qi[g] = others.max() + margin
        parts.append(qi)
    return np.concatenate(parts)


def _newton(model: LossModel, x, free, tol, max_iter):
    """Minimum-norm Gauss-Newton on Q_tot(x) = y over the coordinates ``free``."""
    xt = model.to_tensor(x).clone()
    y = model._y
    for it in range(max_iter):
        r = (y - model.q_tot(xt)).detach()
        err = float(r.abs().max())
        if err < tol:
            return xt.cpu().numpy(), err, it
        jac = model.residual_jacobian(xt).detach()[:, free]
        step = torch.linalg.lstsq(jac.cpu(), r.cpu().unsqueeze(1), driver="gelsd").solution.squeeze(1)
        step = step.to(xt)
        alpha = 1.0
        while alpha > 1e-6:
            trial = xt.clone()
            trial[free] += alpha * step
            new_err = float((y - model.q_tot(trial)).detach().abs().max())
            if np.isfinite(new_err) and new_err < err:
                xt = trial
                break
            alpha *= 0.5
        else:
            break
    r = (y - model.q_tot(xt)).detach()
    return xt.cpu().numpy(), float(r.abs().max()), max_iter


def find_zero_loss_point(model: LossModel, greedy, *, seed: int = 0, margin: float = 1.0,
                         q_scale: float = 1.0, restarts: int = 20, tol: float = 1e-10,
                         max_iter: int = 200) -> ZeroLossPoint:
    """A zero-loss point whose per-agent greedy joint action is ``greedy``.

    Parameters
    ----------
    model : LossModel
        Game and mixer (tau is irrelevant here: M does not depend on it).
    greedy : sequence of int
        The wanted greedy joint action, 0-based.
    seed : int
        Seed of the random starts.
    margin : float
        Gap between each agent's greedy utility and its best alternative.
    q_scale : float
        Spread of the other utilities.
    restarts : int
        Random starts before giving up.
    tol : float
        Required max |y - Q_tot|.
    max_iter : int
        Gauss-Newton iterations per start.

    Raises
    ------
    SettingsError
        ``greedy`` out of range, or no zero-loss point found (e.g. a monotone
        mixer cannot fit a non-monotone payoff, VDN a non-additive one).
    """
    g = check_greedy(model, greedy)
    if not margin > 0:
        raise SettingsError(f"margin must be > 0, got {margin}")
    rng = np.random.default_rng(seed)
    n_q, dim = model.n_q, model.dim
    best = np.inf
    for start in range(int(restarts)):
        q0 = _q_with_greedy(model, g, rng, margin, q_scale)
        theta0 = model.mixer.init_params(int(rng.integers(2**31)), dtype=model.dtype).cpu().numpy()
        x0 = np.concatenate([q0, theta0])
        free = torch.arange(n_q, dim) if model.mixer.n_params else torch.arange(0, n_q)
        x, err, it = _newton(model, x0, free, tol, max_iter)
        best = min(best, err)
        if err < tol and model.greedy(x) == g and model.greedy_gap(x) > 0:
            return ZeroLossPoint(
                x=x, greedy=g, optimal=g in model.payoff.optimal_actions(), max_residual=err,
                greedy_gap=model.greedy_gap(x), iterations=it, start=start,
            )
    shown = tuple(a + 1 for a in g)
    raise SettingsError(
        f"no zero-loss point with greedy action {shown} (1-based) found for mixer "
        f"{model.mixer.name} after {restarts} starts (best max residual {best:.3g}); "
        f"the mixer may be unable to fit this payoff"
    )
