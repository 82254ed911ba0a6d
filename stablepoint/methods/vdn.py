"""VDN: Q_tot(u) = sum_i Q_i(u_i), fitted by weighted least squares (closed form).

The optimum minimises sum_u w(u) (sum_i Q_i(u_i) - Qjt(u))^2, a linear least-
squares problem in the stacked utilities q = (Q_1, ..., Q_n).  Its solution set
is q* + null(Phi_S), where Phi is the 0/1 design matrix (row u has a one in
the column of each u_i) and S is the support of the weights.

Greedy set (MRVF Definition 1 with ties): u is admitted iff SOME optimal q has
u_i in argmax Q_i for every agent i.

* If null(Phi_S) is only the gauge (adding c_i to Q_i with sum c_i = 0, which
  needs every agent's every action to appear in the support), Q_tot is unique
  and the greedy set is read from it with ``VALUE_ATOL`` ties.
* Otherwise (zero weights, e.g. epsilon = 0) the optimal set is affine and a
  linear-programming feasibility test per u decides it (scipy ``linprog``):
  is there z with Q_i(a) - Q_i(u_i) <= VALUE_ATOL for q = q* + N z?

Examples
--------
Uniform weights on two agents give row mean + column mean - grand mean:

>>> import numpy as np
>>> res = VDN().fit(np.array([[8., -12, -12], [-12, 3, 0], [-12, 0, 5]]), (0, 0))
>>> res.fits[0].q_tot.round(4).tolist()[0], sorted(res.greedy_set)
([-7.1111, -4.7778, -4.1111], [(2, 2)])
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog

from stablepoint.methods.base import Fit, FitResult
from stablepoint.methods.common import VisitationMethod, as_payoff, tolerances_of, unit_range_fit
from stablepoint.payoff import Payoff
from stablepoint.projection.result import greedy_of

__all__ = ["VDN", "design_matrix", "vdn_least_squares"]


def design_matrix(shape) -> np.ndarray:
    """Phi, shape (|U|, sum_i A_i): row u (C order) selects Q_i(u_i) for every agent.

    >>> design_matrix((2, 2)).astype(int).tolist()
    [[1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1]]
    """
    offsets = np.concatenate([[0], np.cumsum(shape)[:-1]])
    phi = np.zeros((int(np.prod(shape)), int(np.sum(shape))))
    for row, u in enumerate(itertools.product(*(range(s) for s in shape))):
        phi[row, offsets + np.asarray(u)] = 1.0
    return phi


def vdn_least_squares(y, weights):
    """Minimum-norm weighted least-squares utilities and the null space of the optimal set.

    Returns
    -------
    q : ndarray, shape (sum_i A_i,)
        Stacked Q_1, ..., Q_n of minimum norm.
    basis : ndarray, shape (sum_i A_i, k)
        Orthonormal basis of null(Phi_S): every optimal q is ``q + basis @ z``.
    """
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).ravel()
    phi = design_matrix(y.shape)
    support = w > 0
    sw = np.sqrt(w[support])
    q, *_ = np.linalg.lstsq(phi[support] * sw[:, None], y.ravel()[support] * sw, rcond=None)
    return q, null_space(phi[support])


class VDN(VisitationMethod):
    """VDN under the visitation around u~: additive Q_tot by weighted least squares.

    Parameters
    ----------
    visitation : {"centralized", "decentralized", "uniform"}
        Policy that weights the loss.
    epsilon : float in [0, 1]
        Exploration rate (1.0, the default, is uniform).
    """

    name = "vdn"

    def fit_ignores_u_tilde(self) -> bool:
        """Whether the fit is the same for every u~: the weights are (uniform or epsilon = 1)."""
        return self.visitation == "uniform" or self.epsilon == 1.0

    @unit_range_fit(value_keys=("utilities",))
    def fit(self, payoff: Payoff, u_tilde) -> FitResult:
        """The least-squares VDN fit given u~ and every greedy action an optimum admits.

        Solved in unit range (:func:`stablepoint.methods.common.unit_range_fit`).
        """
        payoff = as_payoff(payoff)
        u_tilde = payoff.check_action(u_tilde)
        shape, y = payoff.shape, payoff.values
        w = self.weights(payoff, u_tilde)
        _, _, value_atol = tolerances_of({})
        q, basis = vdn_least_squares(y, w)
        phi = design_matrix(shape)
        q_tot = (phi @ q).reshape(shape)
        loss = float(np.sum(w * (q_tot - y) ** 2))
        gauge = payoff.n_agents - 1
        if basis.shape[1] <= gauge:
            greedy = greedy_of(q_tot, value_atol)
            fits = (Fit(q_tot=q_tot, greedy=greedy, info={"utilities": _split(q, shape), "weights": w}),)
        else:
            fits_list = []
            for u in itertools.product(*(range(s) for s in shape)):
                z = _greedy_witness(q, basis, shape, u, value_atol)
                if z is not None:
                    q_u = q + basis @ z
                    x = (phi @ q_u).reshape(shape)
                    # u is greedy within value_atol by construction (the LP's constraints).
                    greedy_u = greedy_of(x, value_atol) | {u}
                    fits_list.append(
                        Fit(q_tot=x, greedy=greedy_u, info={"utilities": _split(q_u, shape), "weights": w, "top": u})
                    )
            greedy = frozenset(f.info["top"] for f in fits_list)
            fits = tuple(fits_list)
        return FitResult(
            method=self.name,
            u_tilde=u_tilde,
            loss=loss,
            greedy_set=greedy,
            fits=fits,
            greedy_losses=None,
            certified=True,
            message="optimal: closed-form least squares",
        )

    def __repr__(self) -> str:
        return f"VDN(visitation={self.visitation!r}, epsilon={self.epsilon!r})"


def _split(q, shape):
    return tuple(np.split(q, np.cumsum(shape)[:-1]))


def _greedy_witness(q, basis, shape, u, atol):
    """z with every u_i an argmax of Q_i for q + basis @ z (within ``atol``), or None."""
    offsets = np.concatenate([[0], np.cumsum(shape)[:-1]])
    rows, rhs = [], []
    for i, (s, off) in enumerate(zip(shape, offsets)):
        top = off + u[i]
        for a in range(s):
            if a == u[i]:
                continue
            # (q + B z)[off + a] - (q + B z)[top] <= slack
            rows.append(basis[off + a] - basis[top])
            rhs.append(q[top] - q[off + a])
    a_ub, b_ub = np.array(rows), np.array(rhs)
    # Exact ties first, so the witness's greedy set shows u without leaning on the tolerance.
    for slack in (0.0, atol):
        res = linprog(
            np.zeros(basis.shape[1]),
            A_ub=a_ub,
            b_ub=b_ub + slack,
            bounds=[(None, None)] * basis.shape[1],
            method="highs",
        )
        if res.status == 0:
            return res.x
    return None
