"""Hessian and Jacobian spectra at a point, on the normal space of the zero-loss set.

At a point x of the zero-loss set M every residual r(a) = y(a) - Q_tot(a; x)
vanishes, so every term of the Hessian of L_tau that carries a factor r drops
out (the policy's first and second derivatives all do), leaving

    H_tau(x) = 2 J^T diag(mu) J,    J = dQ_tot/dx  (|U| x dim),

positive semidefinite, and positive definite on the row space of J (the
normal space of M) because every softmax weight mu(a) is positive.  The
Jacobian of the semi-gradient field there is -2 J^T diag(mu) J as well (the
policy's derivative multiplies r = 0).  :func:`analyze_point` computes all of
it by autograd, not from this formula, so the tests can compare the two.

Quadratic forms are reported along the paper's directions
v = e_{i,b} - e_{i,g_i} (Eq. 20/22; q-coordinates only, theta untouched) next
to the paper's predictions: Eq. 19 (with the point's greedy action g_i in the
role of u*_i) and, for b = u*_i != g_i, Eq. 21's -(2/tau)(y(u*) - y(g)).

>>> from stablepoint.catalog import get_game
>>> from stablepoint.gradflow.loss import LossModel
>>> from stablepoint.gradflow.fixed_points import find_zero_loss_point
>>> model = LossModel(get_game("game-a"), "nonmono", tau=0.1, hidden=4)
>>> point = find_zero_loss_point(model, (1, 1), seed=0)
>>> spec = analyze_point(model, point.x)
>>> spec.classification, spec.min_hessian_eigenvalue > -1e-8
('stable on normal space', True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from stablepoint.gradflow.loss import LossModel

__all__ = ["DirectionForm", "PointSpectrum", "analyze_point", "normal_basis", "eq19", "eq21"]


@dataclass(frozen=True)
class DirectionForm:
    """The quadratic form along v = e_{i,to} - e_{i,from} and the paper's predictions.

    Attributes
    ----------
    agent, from_action, to_action : int
        0-based; ``from_action`` is the agent's greedy action g_i.
    hessian : float
        v^T H_tau v (true gradient flow).
    semi : float
        -v^T J_semi v (the same form for the semi-gradient field's Jacobian).
    eq19 : float
        Eq. 19's value (1/tau) sum_a mu(a) [(1[a_i=b] - pi_i(b)) - (1[a_i=g_i] - pi_i(g_i))]^2.
    eq21 : float or None
        Eq. 21's -(2/tau)(y(u*) - y(g)) when ``to_action`` is u*_i != g_i, else None.
    """

    agent: int
    from_action: int
    to_action: int
    hessian: float
    semi: float
    eq19: float
    eq21: float | None


@dataclass(frozen=True, eq=False)
class PointSpectrum:
    """Spectra at one point, with the paper's predicted quadratic forms.

    Attributes
    ----------
    x : ndarray
    tau : float or None
    greedy : tuple of int
    optimal : bool
        greedy == u* (the paper's IGM-consistent case).
    loss, max_residual, field_norm : float
        L_tau, max |y - Q_tot|, and |grad L_tau| at x.
    hessian_eigenvalues : ndarray, shape (dim,)
        Of H_tau (true flow's Jacobian is -H_tau), ascending.
    q_block_eigenvalues : ndarray, shape (n_q,)
        Of the q-q block of H_tau (theta held fixed, the paper's q-only view), ascending.
    normal_rank : int
        Rank of J = dQ_tot/dx: the dimension of the normal space of M.
    tangent_dim : int
        dim - normal_rank: the dimension of M through x (when x is on M).
    normal_eigenvalues : ndarray, shape (normal_rank,)
        Of B^T H_tau B for an orthonormal basis B of the normal space, ascending.
    semi_eigenvalues : ndarray (complex)
        Of the semi-gradient field's Jacobian, by descending real part.
    semi_normal_eigenvalues : ndarray (complex)
        Of B^T J_semi B.
    factored_normal_eigenvalues : ndarray or None
        At a zero-loss point, the normal-space eigenvalues from the factor
        sqrt(2 mu) J B by SVD: accurate where mu is tiny (small tau) and the
        autograd Hessian's own eigenvalues drown in rounding; None off M.
    directions : tuple of DirectionForm
    rel_tol : float
        Eigenvalues within rel_tol * max|eigenvalue| of zero count as zero.
    """

    x: np.ndarray
    tau: float | None
    greedy: tuple
    optimal: bool
    loss: float
    max_residual: float
    field_norm: float
    hessian_eigenvalues: np.ndarray
    q_block_eigenvalues: np.ndarray
    normal_rank: int
    tangent_dim: int
    normal_eigenvalues: np.ndarray
    semi_eigenvalues: np.ndarray
    semi_normal_eigenvalues: np.ndarray
    factored_normal_eigenvalues: np.ndarray | None
    directions: tuple
    rel_tol: float

    @property
    def scale(self) -> float:
        return float(max(1.0, np.abs(self.hessian_eigenvalues).max()))

    @property
    def min_hessian_eigenvalue(self) -> float:
        return float(self.hessian_eigenvalues[0])

    @property
    def min_normal_eigenvalue(self) -> float:
        return float(self.normal_eigenvalues[0]) if self.normal_eigenvalues.size else float("nan")

    @property
    def max_semi_real(self) -> float:
        """Largest real part of the semi-gradient Jacobian's eigenvalues (> 0: unstable)."""
        return float(self.semi_eigenvalues.real.max())

    @property
    def classification(self) -> str:
        """``saddle`` (H has a negative eigenvalue), ``stable on normal space`` or ``degenerate``."""
        tol = self.rel_tol * self.scale
        if self.min_hessian_eigenvalue < -tol:
            return "saddle"
        if not self.normal_eigenvalues.size:
            return "degenerate"
        if self.min_normal_eigenvalue > tol:
            return "stable on normal space"
        fac = self.factored_normal_eigenvalues
        if fac is not None and fac.size and fac.min() > 0 and self.min_normal_eigenvalue > -tol:
            return "stable on normal space"
        return "degenerate"


def normal_basis(jac: np.ndarray, rel_tol: float = 1e-9) -> np.ndarray:
    """Orthonormal basis (dim x rank) of the row space of ``jac`` by SVD."""
    _, s, vt = np.linalg.svd(jac, full_matrices=False)
    rank = int((s > rel_tol * max(1.0, s.max(initial=0.0))).sum())
    return vt[:rank].T


def eq19(model: LossModel, x, agent: int, greedy_action: int, other: int) -> float:
    """The paper's Eq. 19 for v = e_{i,other} - e_{i,greedy_action} (1/tau times a mean square)."""
    xt = model.to_tensor(x)
    with torch.no_grad():
        mu = model.policy(xt).cpu().numpy()
    start = int(sum(model.payoff.shape[:agent]))
    qi = np.asarray(x[start : start + model.payoff.shape[agent]], dtype=float)
    pi = np.exp((qi - qi.max()) / model.tau)
    pi /= pi.sum()
    a_i = np.array([a[agent] for a in model.payoff.joint_actions()])
    bracket = ((a_i == other) - pi[other]) - ((a_i == greedy_action) - pi[greedy_action])
    return float((mu * bracket**2).sum() / model.tau)


def eq21(model: LossModel, greedy) -> float:
    """The paper's Eq. 21 prediction -(2/tau)(y(u*) - y(g))."""
    u_star = model.payoff.optimal_actions()[0]
    return -2.0 / model.tau * (model.payoff[u_star] - model.payoff[tuple(greedy)])


def analyze_point(model: LossModel, x, *, rel_tol: float = 1e-9) -> PointSpectrum:
    """Hessian of L_tau, semi-gradient Jacobian, normal-space spectra and Eq. 19/21 at x.

    Parameters
    ----------
    model : LossModel
        Needs a softmax policy (tau not None) for the Eq. 19/21 columns.
    x : array_like, shape (dim,)
        Usually a zero-loss point from :func:`~stablepoint.gradflow.fixed_points.find_zero_loss_point`;
        any point is accepted (then H is not the formula above).
    rel_tol : float
        Relative threshold for rank and for the sign of eigenvalues.
    """
    xt = model.to_tensor(x)
    x = xt.cpu().numpy()
    hess = model.hessian(xt).detach().cpu().numpy()
    hess = 0.5 * (hess + hess.T)
    semi = model.field_jacobian(xt, "semi").detach().cpu().numpy()
    jac = model.residual_jacobian(xt).detach().cpu().numpy()
    basis = normal_basis(jac, rel_tol)
    with torch.no_grad():
        loss = float(model.loss(xt))
        max_res = float(model.residual(xt).abs().max())
    field_norm = float(model.field(xt, "true").norm())
    greedy = model.greedy(x)
    u_star = model.payoff.optimal_actions()[0]
    directions = []
    if model.tau is not None:
        starts = np.concatenate([[0], np.cumsum(model.payoff.shape)[:-1]])
        for i, (start, size) in enumerate(zip(starts, model.payoff.shape)):
            for b in range(size):
                if b == greedy[i]:
                    continue
                v = np.zeros(model.dim)
                v[start + b], v[start + greedy[i]] = 1.0, -1.0
                pred21 = eq21(model, greedy) if (b == u_star[i] and greedy[i] != u_star[i]) else None
                directions.append(DirectionForm(
                    agent=i, from_action=greedy[i], to_action=b, hessian=float(v @ hess @ v),
                    semi=float(-(v @ semi @ v)), eq19=eq19(model, x, i, greedy[i], b), eq21=pred21,
                ))
    factored = None
    if max_res <= 1e-8 * max(1.0, float(np.abs(model.payoff.values).max())) and basis.size:
        with torch.no_grad():
            mu = model.policy(xt).cpu().numpy()
        sv = np.linalg.svd(np.sqrt(2.0 * mu)[:, None] * (jac @ basis), compute_uv=False)
        factored = np.sort(sv**2)
    semi_eigs = np.linalg.eigvals(semi)
    semi_normal = np.linalg.eigvals(basis.T @ semi @ basis) if basis.size else np.array([])
    return PointSpectrum(
        x=x, tau=model.tau, greedy=greedy, optimal=greedy in model.payoff.optimal_actions(),
        loss=loss, max_residual=max_res, field_norm=field_norm,
        hessian_eigenvalues=np.linalg.eigvalsh(hess),
        q_block_eigenvalues=np.linalg.eigvalsh(hess[: model.n_q, : model.n_q]), normal_rank=basis.shape[1],
        tangent_dim=model.dim - basis.shape[1],
        normal_eigenvalues=np.linalg.eigvalsh(basis.T @ hess @ basis) if basis.size else np.array([]),
        semi_eigenvalues=semi_eigs[np.argsort(-semi_eigs.real)],
        semi_normal_eigenvalues=semi_normal[np.argsort(-semi_normal.real)] if basis.size else semi_normal,
        factored_normal_eigenvalues=factored,
        directions=tuple(directions), rel_tol=rel_tol,
    )
