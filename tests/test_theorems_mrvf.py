"""MRVF Theorems 1-3 and Lemma 1 as property tests over random payoffs.

Every check runs the toolkit's exact methods (``stablepoint.methods``) and
compares with a number derived independently of them: the closed-form
threshold and bound of ``stablepoint.paper.theorems``, the payoff's own
arg-max / arg-min, or a constructed sequence.  Profiles: see ``conftest.py``.
"""

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from conftest import THOROUGH
from stablepoint.catalog import get_game
from stablepoint.methods import get_method
from stablepoint.methods.mrvf import increment_target
from stablepoint.paper.theorems import lemma1_bound, theorem2_threshold
from stablepoint.payoff import Payoff
from strategies import payoffs

# exact Ideal-QMIX fits cost one projection per forced greedy action: keep CI shapes small
SMALL = dict(max_agents=3, max_actions=4 if THOROUGH else 3, max_cells=12 if THOROUGH else 8)
TINY = dict(max_agents=3 if THOROUGH else 2, max_actions=3, max_cells=9 if THOROUGH else 6)


# --------------------------------------------------------------------------- Theorem 1


@given(payoffs(max_cells=16), st.data())
def test_theorem1_strictly_improving_sequence_reaches_optimum(payoff, data):
    """Any strictly improving sequence reaches u* within |U| steps (MRVF Theorem 1)."""
    y = payoff.values
    actions = list(payoff.joint_actions())
    u = data.draw(st.sampled_from(actions), label="start")
    above_start = sum(y[v] > y[u] for v in actions)
    steps = 0
    while True:
        better = [v for v in actions if y[v] > y[u]]
        if not better:
            break
        u = data.draw(st.sampled_from(better), label=f"step {steps + 1}")
        steps += 1
    assert u in payoff.optimal_actions()
    assert steps <= above_start <= len(actions) - 1


@given(payoffs(non_constant=True, **TINY).filter(lambda p: np.ptp(p.values) >= 1), st.data())
def test_theorem1_mrvf_round_stable_points_strictly_improve(payoff, data):
    """While the clipped target is non-constant (u~ not optimal), every STABLE point of a round improves.

    The round's epsilon is drawn below the Theorem 2 threshold of the round's
    target Y^k, whose minima are exactly the non-improving actions; so by
    Theorem 2 none of them is a stable point of QMIX on Y^k.  (Whether the
    round's greedy dynamics reach a stable point at all is another matter: see
    the Table 5 counterexample below.)
    """
    y = payoff.values
    u = data.draw(st.sampled_from([v for v in payoff.joint_actions() if y[v] <= y.max() - 0.5]), label="u~")
    target = Payoff(increment_target(y, u))
    eps = theorem2_threshold(target) * data.draw(st.floats(0.05, 0.95), label="eps / E")
    note(f"target={target.values.tolist()} eps={eps}")
    qmix = get_method("qmix", visitation="centralized", epsilon=eps)
    stable = [v for v in target.joint_actions() if qmix.fit(target, v).stable]
    assert all(y[v] > y[u] for v in stable), f"round from {u} has non-improving stable points {stable}"
    # the MRVF method agrees: every improving action it reports is one of these stable points or a cycle member
    fit = get_method("mrvf", visitation="centralized", epsilon=eps).fit(payoff, u)
    assert fit.greedy_set
    assert set(stable) & {v for v in fit.greedy_set if y[v] > y[u]} == set(stable)


def test_theorem1_counterexample_round_cycles_among_minima_on_table5():
    """COUNTEREXAMPLE to MRVF's strict-improvement argument (Section 4.1), found by the toolkit.

    Table 5, round k from ubar^{k-1} = (1, 2) (1-based, Q_jt = -12), centralized
    epsilon-greedy with eps = 0.05 < E(Y^k) = 0.4011.  Y^k = Q_jt + 12 keeps the
    four -12 cells as its minima; none is a stable point (Theorem 2 holds), yet
    Ideal QMIX's greedy dynamics on Y^k have a closed cycle through exactly those
    minima: (1,2) -> {(2,1), (3,1)} -> {(1,2), (1,3)} -> ...  Started from
    ubar^{k-1}, the round never leaves it, so "ubar^k only converges to actions
    superior to ubar^{k-1}" fails; the mrvf method reports that the process can
    stop at (1, 2).
    """
    from stablepoint.stability import analyze

    p = get_game("table5")
    u = (0, 1)
    target = Payoff(increment_target(p.values, u))
    eps = 0.05
    assert eps < theorem2_threshold(target) == pytest.approx(0.40107, abs=1e-5)
    res = analyze(target, get_method("qmix", visitation="centralized", epsilon=eps))
    minima = frozenset({(0, 1), (0, 2), (1, 0), (2, 0)})
    assert not (set(res.kinds) & minima)  # Theorem 2: no minimum is a stable point
    assert minima in res.attractors  # ... but the minima form a closed cycle
    assert res.greedy_set((0, 1)) == {(1, 0), (2, 0)} and res.greedy_set((1, 0)) == {(0, 1), (0, 2)}
    fit = get_method("mrvf", visitation="centralized", epsilon=eps).fit(p, u)
    assert u in fit.greedy_set  # the process may stop at (1, 2)


def test_theorem1_mrvf_from_non_minimal_starts_reaches_optimum_on_table5():
    """From every start above the minima, MRVF rounds on Table 5 strictly improve up to u* = (1, 1)."""
    p = get_game("table5")
    method = get_method("mrvf", visitation="centralized", epsilon=0.05)
    for start in [u for u in p.joint_actions() if p[u] > p.values.min()]:
        frontier, seen = {start}, set()
        while frontier:
            u = frontier.pop()
            seen.add(u)
            nxt = method.fit(p, u).greedy_set
            if u in nxt:
                assert nxt == {u} and u in p.optimal_actions(), f"MRVF can stop at {u} from {start}"
            else:
                assert all(p[v] > p[u] for v in nxt)
                frontier |= set(nxt) - seen
        assert (0, 0) in seen


# --------------------------------------------------------------------------- Theorem 2 and Lemma 1


@given(payoffs(non_constant=True, **SMALL).filter(lambda p: np.ptp(p.values) >= 1), st.floats(0.05, 0.95))
def test_theorem2_argmin_not_stable_below_threshold(payoff, fraction):
    """Below the computed E, no arg-min joint action is a stable point of Ideal QMIX (centralized).

    Payoff ranges >= 1 and eps not within 5% of 0 or E keep the loss gaps far
    above the solver's tie tolerance (LOSS_ATOL), so a failure is the theorem's.
    """
    eps = theorem2_threshold(payoff) * fraction
    qmix = get_method("qmix", visitation="centralized", epsilon=eps)
    for u in payoff.worst_actions():
        fit = qmix.fit(payoff, u)
        assert not fit.stable, f"arg-min {u} is stable at eps={eps}: greedy set {sorted(fit.greedy_set)}"


def test_theorem2_threshold_is_sufficient_not_tight_on_table5():
    """E(Table 5) = 0.4011 is a sufficient threshold; the minima stay unstable up to eps = 1 there."""
    p = get_game("table5")
    # d = Y + 12: S1 = 76, D = 20, so E = 9 / (8 + 3.8^2)
    assert theorem2_threshold(p) == pytest.approx(9 / (8 + 3.8**2), rel=1e-12)
    for eps in (0.39, 1.0):
        qmix = get_method("qmix", visitation="centralized", epsilon=eps)
        assert not any(qmix.fit(p, u).stable for u in p.worst_actions())


def test_theorem2_decentralized_minima_form_a_cycle():
    """Without the centralized policy the minima are still not stable points, but can trap the greedy action.

    Predator-prey (penalty -2, 3 actions), small epsilon: under decentralized
    epsilon-greedy (Eq. 2) every lone-capture arg-min moves to the OTHER agent's
    lone captures, so the arg-min set is closed (a cycle of minima); under
    centralized epsilon-greedy (Eq. 8) each moves to the optimum.  This is why
    the paper requires Eq. 8 for MRVF (Section 4.3).
    """
    p = get_game("predator-prey:penalty=-2,actions=3")
    worst = set(p.worst_actions())
    for eps in (1e-2, 1e-4):
        dec = get_method("qmix", visitation="decentralized", epsilon=eps)
        cen = get_method("qmix", visitation="centralized", epsilon=eps)
        for u in worst:
            g_dec, g_cen = dec.fit(p, u).greedy_set, cen.fit(p, u).greedy_set
            assert u not in g_dec and g_dec <= worst and g_dec
            assert g_cen == {(0, 0)}


@given(payoffs(**SMALL), st.data())
def test_lemma1_q_tot_at_u_tilde_within_bound(payoff, data):
    """|Q_tot*(u~) - Q_jt(u~)| <= sqrt(sum pi (Y - Y(u~))^2 / pi(u~)) -> 0 (MRVF Lemma 1)."""
    u = data.draw(st.sampled_from(list(payoff.joint_actions())), label="u~")
    vis = data.draw(st.sampled_from(["centralized", "decentralized"]), label="visitation")
    eps = data.draw(st.sampled_from([0.5, 0.05, 1e-3]), label="eps")
    qmix = get_method("qmix", visitation=vis, epsilon=eps)
    fit = qmix.fit(payoff, u)
    bound = lemma1_bound(payoff, qmix.weights(payoff, u), u)
    for f in fit.fits:
        assert abs(f.q_tot[u] - payoff[u]) <= bound + 1e-6


def test_lemma1_limit_on_table5():
    """The deviation at u~ shrinks with epsilon (u~ = (2, 2), 1-based, centralized)."""
    p = get_game("table5")
    devs = []
    for eps in (0.5, 0.05, 0.005, 0.0005):
        fit = get_method("qmix", visitation="centralized", epsilon=eps).fit(p, (1, 1))
        devs.append(max(abs(f.q_tot[1, 1] - 3.0) for f in fit.fits))
    assert devs[-1] < 0.01
    assert all(b <= a + 1e-9 for a, b in zip(devs, devs[1:]))


# --------------------------------------------------------------------------- Theorem 3 (ResQ)


@given(payoffs(max_cells=27), st.sampled_from(["centralized", "decentralized"]), st.sampled_from([1.0, 0.3, 0.01]))
def test_theorem3_resq_optimum_weakly_stable_rest_unstable(payoff, vis, eps):
    """u* weakly (never strongly) stable for ResQ, every other joint action not stable (MRVF Theorem 3)."""
    resq = get_method("resq", visitation=vis, epsilon=eps)
    optimal = set(payoff.optimal_actions())
    for u in payoff.joint_actions():
        fit = resq.fit(payoff, u)
        assert fit.loss == pytest.approx(0.0, abs=1e-9)  # Lemma 2: zero loss for every u~
        if u in optimal:
            assert fit.stable and not fit.strongly_stable
        else:
            assert not fit.stable
