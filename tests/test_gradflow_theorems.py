"""Flows, outcome tables and the verdicts on Theorems 1-3 (with the stored Theorem 3 counterexamples)."""

import dataclasses

import numpy as np
import pytest

from stablepoint.catalog import get_game
from stablepoint.gradflow.flow import FlowSettings, greedy_path, initial_states, integrate, run_flows
from stablepoint.gradflow.loss import LossModel
from stablepoint.gradflow.outcomes import outcome_table
from stablepoint.gradflow.spectra import eq21
from stablepoint.gradflow.verdicts import (
    load_counterexamples,
    perturbation_outcomes,
    verify_theorem1,
    verify_theorem2,
    verify_theorem3,
)


def test_true_flow_decreases_the_loss_and_stops_below_gtol():
    model = LossModel(get_game("game-b"), "nonmono", tau=0.3, hidden=4)
    x0 = initial_states(model, 1, seed=4)[0]
    traj = integrate(model, x0, FlowSettings(gradient="true", t_max=300, gtol=1e-2))
    assert traj.gradient == "true" and traj.converged
    # a gradient flow never increases its own loss
    assert np.all(np.diff(traj.loss) <= 1e-6 * traj.loss[0])
    field = model.field(model.to_tensor(traj.x_final), "true")
    assert float(field.norm()) < 1e-2
    assert traj.greedy == model.greedy(traj.x_final)


def test_parallel_workers_and_torch_backend_give_the_same_trajectories():
    model = LossModel(get_game("game-a"), "nonmono", tau=0.3, hidden=3)
    x0s = initial_states(model, 2, seed=1)
    settings = FlowSettings(gradient="semi", t_max=50, gtol=1e-2)
    serial = run_flows(model, x0s, settings)
    parallel = run_flows(model, x0s, settings, workers=2)
    by_torch = run_flows(model, x0s[:1], dataclasses.replace(settings, backend="torch"))
    for a, b in zip(serial.trajectories, parallel.trajectories):
        np.testing.assert_array_equal(a.x_final, b.x_final)
    np.testing.assert_allclose(by_torch.trajectories[0].x_final, serial.trajectories[0].x_final, rtol=1e-6,
                               atol=1e-6)


def test_outcome_table_is_consistent_with_its_trajectories():
    game = get_game("game-a")
    table = outcome_table(game, taus=(1.0, 0.1), mixers=("nonmono", "qmix"), gradients=("true", "semi"),
                          n_runs=3, hidden=4, settings=FlowSettings(t_max=300, gtol=1e-2))
    assert len(table.rows) == 8
    for row, batch in zip(table.rows, table.batches):
        model = LossModel(game, row.mixer, tau=row.tau, hidden=4)
        conv = [t for t in batch.trajectories if t.converged]
        assert row.n_converged == len(conv) and row.n_runs == 3
        for t in conv:
            xt = model.to_tensor(t.x_final)
            # every reported end point: field norm (recomputed by autograd) below the tolerance
            assert float(model.field(xt, row.gradient).norm()) < 1e-2
            qt = model.q_tot(xt).detach().numpy().reshape(game.shape)
            g = greedy_path(game.shape, t.x_final[None, : model.n_q])[0]
            assert t.greedy == g
            assert t.igm_consistent == bool(qt[g] >= qt.max() - 1e-9 * max(1, abs(qt.max())))
            assert t.optimal == (g == (0, 0))
        if conv:
            assert row.optimal == pytest.approx(sum(t.optimal for t in conv) / len(conv))
            assert row.igm == pytest.approx(sum(t.igm_consistent for t in conv) / len(conv))
        if row.mixer == "qmix" and conv:
            # a monotone mixer is IGM-consistent by construction (Eq. 5), whatever it converges to
            assert row.igm == 1.0
        assert sum(c for _, c in row.greedy_counts) == 3
    # paired initial conditions: the same q0 in every row of a mixer
    q0 = [b.trajectories[0].x0[:6] for b in table.batches]
    assert all(np.array_equal(q0[0], q) for q in q0)


def test_theorem1_holds_for_the_unconstrained_mixer():
    v = verify_theorem1("game-a", hidden=4, greedy=[(2, 2)])
    assert v.holds and v.tau is None
    spec = v.points[0]
    assert spec.greedy == (2, 2) and not spec.optimal
    assert spec.max_residual < 1e-9 and spec.tangent_dim == (6 + 17) - 9


def test_theorem1_not_borne_out_by_vdn():
    v = verify_theorem1("game-a", mixer="vdn", greedy=[(1, 1)], restarts=2)
    assert not v.holds and not v.points


def test_theorem2_holds_at_the_optimum():
    v = verify_theorem2("game-b", tau=0.5, hidden=4)
    assert v.holds
    spec = v.points[0]
    assert spec.optimal and spec.classification == "stable on normal space"
    # Eq. 19 gets the sign but not the value
    assert all(d.hessian > 0 and d.eq19 > 0 for d in spec.directions)
    assert max(abs(d.hessian / d.eq19 - 1) for d in spec.directions) > 1


@pytest.mark.parametrize("game", ["game-a", "game-b"])
def test_theorem3_fails_no_saddle_at_an_igm_inconsistent_zero_loss_point(game):
    v = verify_theorem3(game, tau=0.3, hidden=4, greedy=[(1, 1)], perturb=False)
    assert not v.holds
    spec = v.points[0]
    assert spec.greedy == (1, 1) and not spec.optimal and spec.max_residual < 1e-9
    assert spec.min_hessian_eigenvalue > -1e-9 * spec.scale
    assert spec.q_block_eigenvalues[0] > -1e-9 * spec.scale  # theta held fixed: no saddle either
    assert spec.classification == "stable on normal space"
    toward_opt = [d for d in spec.directions if d.eq21 is not None]
    assert toward_opt and all(d.hessian > 0 > d.eq21 for d in toward_opt)
    assert spec.max_semi_real < 1e-9 * spec.scale


@pytest.mark.parametrize("record", load_counterexamples(), ids=lambda r: f"{r['game']}-{r['greedy_0based']}")
def test_stored_theorem3_counterexamples(record):
    model = LossModel(get_game(record["game"]), record["mixer"], tau=record["tau"], hidden=record["hidden"],
                      activation=record["activation"])
    x = np.array(record["x"])
    g = tuple(record["greedy_0based"])
    assert model.greedy(x) == g and g not in model.payoff.optimal_actions()
    xt = model.to_tensor(x)
    assert float(model.residual(xt).abs().max()) < 1e-9
    hess = model.hessian(xt).detach().numpy()
    eigs = np.linalg.eigvalsh(0.5 * (hess + hess.T))
    # Theorem 3 claims a negative eigenvalue; the spectrum is >= 0 up to rounding
    assert eigs[0] > -1e-9 * np.abs(eigs).max()
    prediction = eq21(model, g)
    assert prediction == record["eq21_prediction"] < 0
    u_star = model.payoff.optimal_actions()[0]
    for i in range(model.payoff.n_agents):
        if g[i] != u_star[i]:
            v = np.zeros(model.dim)
            start = sum(model.payoff.shape[:i])
            v[start + u_star[i]], v[start + g[i]] = 1.0, -1.0
            assert v @ hess @ v > 0


def test_flows_stay_near_an_igm_inconsistent_zero_loss_point():
    record = load_counterexamples()[0]
    model = LossModel(get_game(record["game"]), record["mixer"], tau=0.3, hidden=record["hidden"])
    outcomes = perturbation_outcomes(model, np.array(record["x"]), radius=1e-2, n=1, t_max=50)
    assert {o.gradient for o in outcomes} == {"true", "semi"}
    for o in outcomes:
        assert o.greedy_after == o.greedy_before == tuple(record["greedy_0based"])
        assert o.distance < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("game", ["game-a", "game-b"])
def test_outcome_table_full_study(game):
    table = outcome_table(get_game(game), n_runs=20)
    for row, batch in zip(table.rows, table.batches):
        model = LossModel(get_game(game), row.mixer, tau=row.tau)
        for t in batch.trajectories:
            if t.converged:
                assert float(model.field(model.to_tensor(t.x_final), row.gradient).norm()) < 1e-3
