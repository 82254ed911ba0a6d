"""Beyond Monotonicity Theorems 1-3 through the gradient-flow verdicts of ``stablepoint.gradflow``.

Theorem 3 FAILS: at an IGM-inconsistent zero-loss point L_tau = 0 is a global
minimum of L_tau >= 0, so the Hessian cannot have a negative eigenvalue.  The
test pins the counterexample (Game A, greedy (2, 2), tau 0.3) with the numbers
the toolkit computes, and checks it independently: the loss there is zero
and no perturbation lowers it.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

verdicts = pytest.importorskip("stablepoint.gradflow.verdicts")
from stablepoint.catalog import get_game  # noqa: E402
from stablepoint.gradflow.loss import LossModel  # noqa: E402
from stablepoint.payoff import Payoff  # noqa: E402

HIDDEN = 4


@pytest.mark.parametrize("game", ["game-a", "game-b"])
def test_theorem1_uniform_policy_has_inconsistent_zero_loss_manifold(game):
    v = verdicts.verify_theorem1(game, hidden=HIDDEN, restarts=10)
    assert v.holds, v.summary
    numbers = dict(v.numbers)
    assert numbers["max residual"] < 1e-8 and numbers["tangent dimension"] >= 1
    assert v.points[0].greedy not in get_game(game).optimal_actions()


@pytest.mark.parametrize("game,tau", [("game-a", 0.3), ("game-b", 0.3), ("game-a", 0.1)])
def test_theorem2_igm_consistent_point_is_stable_on_normal_space(game, tau):
    v = verdicts.verify_theorem2(game, tau=tau, hidden=HIDDEN, restarts=10)
    assert v.holds, v.summary
    assert v.points[0].greedy in get_game(game).optimal_actions()
    assert dict(v.numbers)["min normal-space eigenvalue"] > 0


def test_theorem3_counterexample_inconsistent_point_is_not_a_saddle():
    """COUNTEREXAMPLE to Beyond Monotonicity Theorem 3 (Eq. 21), found by the toolkit."""
    v = verdicts.verify_theorem3("game-a", tau=0.3, greedy=[(1, 1)], hidden=HIDDEN, perturb=False, restarts=10)
    assert not v.holds
    spec = v.points[0]
    assert spec.greedy == (1, 1) and not spec.optimal
    assert spec.max_residual < 1e-8
    assert spec.min_hessian_eigenvalue > -1e-6 * max(1.0, float(np.abs(spec.hessian_eigenvalues).max()))
    # independent check: the point is a global minimum of L_tau >= 0, so no direction descends
    model = LossModel(get_game("game-a"), "nonmono", tau=0.3, hidden=HIDDEN)
    x = torch.as_tensor(spec.x, dtype=torch.float64)
    base = float(model.loss(x))
    assert base < 1e-12
    rng = np.random.default_rng(0)
    for _ in range(20):
        d = torch.as_tensor(rng.normal(size=x.numel()), dtype=torch.float64)
        assert float(model.loss(x + 1e-3 * d / d.norm())) >= base - 1e-15


@settings(max_examples=4)
@given(st.lists(st.integers(-6, 6), min_size=4, max_size=4).filter(lambda v: v.count(max(v)) == 1))
def test_theorem2_on_random_2x2_games(values):
    """Random 2x2 payoffs with a unique optimum: the IGM-consistent zero-loss point is stable (tau 0.3)."""
    p = Payoff(np.array(values, dtype=float).reshape(2, 2), name="random")
    v = verdicts.verify_theorem2(p, tau=0.3, hidden=HIDDEN, restarts=10)
    assert v.holds, v.summary
