"""The learner's pluggable pieces against independent computations.

MRVF's increment target (Eq. 5) and early termination, the TD(lambda) return (Eq. 30 of
Beyond Monotonicity), WQMIX's weights (checked against the exact method's Eq. 3 weights),
QTRAN's losses, centralized epsilon-greedy sampling, the controller's action selection.
"""

from __future__ import annotations

import dataclasses
import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from stablepoint.catalog import get_game
from stablepoint.rl.config import load_algo
from stablepoint.rl.controller import Controller, LinearSchedule
from stablepoint.rl.envs import make_env
from stablepoint.rl.learner import (
    AUX_LOSSES,
    LOSS_WEIGHTS,
    TARGETS,
    Context,
    Learner,
    Rounds,
    greedy_final,
    increment_target,
    td_lambda_targets,
)
from stablepoint.rl.runner import run_episodes

torch.set_num_threads(1)  # tiny networks: more threads only contend on a shared CI machine
TABLE5 = get_game("table5")


class TableQ(nn.Module):
    """A joint-action 'network' that returns a fixed payoff: Q^_jt = Qjt exactly."""

    def __init__(self, values):
        super().__init__()
        self.values = torch.tensor(np.array(values), dtype=torch.float32)

    def forward(self, state, actions):
        return self.values[tuple(actions.long().unbind(-1))]


def _batch(learner, spec="matrix:table5", episodes=64, seed=0):
    env = make_env(spec, n_envs=episodes, seed=seed)
    ctl = Controller(learner, LinearSchedule(1.0, 1.0, 1), seed=seed)  # uniform behaviour
    batch, _ = run_episodes(env, ctl, test_mode=False, t_env=0)
    return batch.trimmed().to_torch()


# -- TD(lambda) ---------------------------------------------------------------------------


def _lambda_return_bruteforce(r, term, mask, v, gamma, lam):
    """Eq. 30 directly: (1 - lam) sum_n lam^{n-1} G^(n), the tail weight on the full return."""
    B, T = r.shape
    out = np.zeros((B, T))
    for b in range(B):
        L = int(mask[b].sum())
        for t in range(L):
            def n_step(n):
                g, disc = 0.0, 1.0
                for j in range(t, t + n):
                    g += disc * r[b, j]
                    if term[b, j]:
                        return g
                    disc *= gamma
                return g + disc * v[b, t + n - 1]
            horizon = L - t
            total = sum((1 - lam) * lam ** (n - 1) * n_step(n) for n in range(1, horizon))
            out[b, t] = total + lam ** (horizon - 1) * n_step(horizon)
    return out


@pytest.mark.parametrize("lam", [0.0, 0.6, 1.0])
def test_td_lambda_matches_the_lambda_return(lam):
    rng = np.random.default_rng(0)
    B, T = 4, 6
    r = rng.normal(size=(B, T))
    v = rng.normal(size=(B, T))
    lengths = [6, 4, 1, 5]
    mask = np.array([[t < L for t in range(T)] for L in lengths], dtype=float)
    term = np.zeros((B, T))
    term[1, 3] = term[2, 0] = 1.0  # episodes 1 and 2 end in a true termination; 0 and 3 hit a time limit
    got = td_lambda_targets(*(torch.tensor(a, dtype=torch.float64) for a in (r, term, mask, v)), 0.9, lam)
    expected = _lambda_return_bruteforce(r, term, mask, v, 0.9, lam)
    np.testing.assert_allclose(got.numpy() * mask, expected, atol=1e-12)


# -- MRVF: increment target and early termination -----------------------------------------


def test_increment_target_reproduces_mrvf_table2():
    y = torch.tensor(TABLE5.values)
    np.testing.assert_array_equal(increment_target(y, y[2, 2]).numpy(), [[3, 0, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(increment_target(y, y[0, 0]).numpy(), np.zeros((3, 3)))


def test_joint_value_target_round1_is_qjt_and_later_rounds_the_increment():
    algo = dataclasses.replace(load_algo("mrvf"), sample_epsilon=1.0)
    learner = Learner(algo, make_env("matrix:table5").info, seed=0)
    learner.joint = TableQ(TABLE5.values)
    ctx = Context(learner, _batch(learner), epsilon=1.0)
    y = TABLE5.values
    for k in range(algo.rounds):
        fitted = TARGETS["joint_value"](ctx, k)
        acts = fitted.actions[:, 0].numpy()
        got = fitted.target[:, 0].numpy()
        values = y[acts[:, 0], acts[:, 1]]
        if k == 0:
            np.testing.assert_allclose(got, values)  # Eq. 6
        else:
            prev = ctx.rounds.greedy[k - 1][:, 0].numpy()
            np.testing.assert_allclose(got, np.maximum(values - y[prev[:, 0], prev[:, 1]], 0.0))  # Eq. 5
        assert len({tuple(a) for a in acts}) > 3  # epsilon = 1: u^k spread over the joint actions


def _bruteforce_final(greedy, values):
    final, which = greedy[0], 0
    for k in range(1, len(greedy)):
        if values[greedy[k]] > values[greedy[k - 1]]:
            final, which = greedy[k], k
        else:
            break
    return final, which


def test_early_termination_against_a_loop_over_every_round_sequence():
    cells = list(itertools.product(range(3), repeat=2))
    seqs = list(itertools.product(cells, repeat=3))  # every (ubar^1, ubar^2, ubar^3)
    greedy = [torch.tensor([s[k] for s in seqs]) for k in range(3)]
    rounds = Rounds([None] * 3, greedy, [None] * 3)
    table = TableQ(TABLE5.values)
    final, which = greedy_final(rounds, lambda a: table(None, a))
    for i, s in enumerate(seqs):
        f, w = _bruteforce_final(s, TABLE5.values)
        assert tuple(final[i].tolist()) == f and int(which[i]) == w
    # Table 2's path: (3,3) -> (1,1) improves, round 3 cannot improve on 8: output (1,1) from round 2
    i = seqs.index(((2, 2), (0, 0), (1, 1)))
    assert tuple(final[i].tolist()) == (0, 0) and int(which[i]) == 1
    # a tie terminates too (strict improvement)
    i = seqs.index(((1, 2), (2, 1), (0, 0)))
    assert tuple(final[i].tolist()) == (1, 2) and int(which[i]) == 0


def test_controller_acts_with_the_early_terminated_action_in_test_mode():
    learner = Learner(load_algo("mrvf"), make_env("matrix:table5").info, seed=0)
    learner.joint = TableQ(TABLE5.values)
    env = make_env("matrix:table5", n_envs=4)
    ctl = Controller(learner, LinearSchedule(0.0, 0.0, 1))
    ctl.reset(4)
    final, which, per_round = ctl.greedy(env.obs(), env.state(), env.avail_actions())
    expected, w = _bruteforce_final([tuple(g[0]) for g in per_round], TABLE5.values)
    assert tuple(final[0]) == expected and which[0] == w
    ctl.reset(4)
    actions, extras = ctl(env.obs(), env.state(), env.avail_actions(), 0, True)
    assert tuple(actions[0]) == expected and extras == {}


# -- exploration ---------------------------------------------------------------------------


def test_centralized_sampling_matches_eq8_frequencies():
    algo = dataclasses.replace(load_algo("mrvf"), sample_epsilon=0.4)
    learner = Learner(algo, make_env("matrix:table5").info, seed=3)
    ctx = SimpleNamespace(learner=learner, avail=torch.ones(20000, 1, 2, 3, dtype=torch.bool), epsilon=0.05,
                          reward=torch.zeros(20000, 1), n_agents=2, n_actions=3)
    greedy = torch.tensor([2, 1]).expand(20000, 1, 2)
    acts = Context.sample_centralized(ctx, greedy)[:, 0]
    at_greedy = (acts == torch.tensor([2, 1])).all(-1).float().mean().item()
    assert abs(at_greedy - (1 - 0.4 + 0.4 / 9)) < 0.015
    # centralized: agent 1 deviates only when the whole joint action was redrawn
    dev0, dev1 = acts[:, 0] != 2, acts[:, 1] != 1
    assert abs(dev1.float().mean().item() - 0.4 * 2 / 3) < 0.015
    assert dev0.float()[dev1].mean().item() > 0.6  # strongly correlated (independent would be 0.27)


def test_decentralized_and_centralized_controllers_and_preselection():
    info = make_env("matrix:table5").info
    env = make_env("matrix:table5", n_envs=4000)
    obs, state, avail = env.obs(), env.state(), env.avail_actions()
    for name, both in (("qmix", 0.5 * 0.5 * (2 / 3) ** 2), ("mrvf", 0.5 * (2 / 3) ** 2)):
        algo = dataclasses.replace(load_algo(name), preselect_p=0.0)
        ctl = Controller(Learner(algo, info, seed=0), LinearSchedule(0.5, 0.5, 1), seed=0)
        ctl.reset(4000)
        greedy = ctl.greedy(obs, state, avail)[0]
        ctl.reset(4000)
        acts, _ = ctl(obs, state, avail, 0, False)
        both_dev = ((acts != greedy).all(-1)).mean()
        assert abs(both_dev - both) < 0.03, name
    # preselection with p = 1 and no exploration plays some round's greedy action
    algo = dataclasses.replace(load_algo("mrvf"), preselect_p=1.0)
    ctl = Controller(Learner(algo, info, seed=0), LinearSchedule(0.0, 0.0, 1), seed=0)
    ctl.reset(4000)
    _, _, per_round = ctl.greedy(obs, state, avail)
    ctl.reset(4000)
    acts, _ = ctl(obs, state, avail, 0, False)
    in_some = np.zeros(4000, dtype=bool)
    for g in per_round:
        in_some |= (acts == g).all(-1)
    assert in_some.all()


# -- WQMIX and QTRAN -----------------------------------------------------------------------


@pytest.mark.parametrize("u_tilde", [(1, 2), (2, 2), (0, 0)])
def test_cw_weights_equal_the_exact_methods_eq3_weights(u_tilde):
    from stablepoint.methods.wqmix import eq3_weights

    learner = SimpleNamespace(joint=TableQ(TABLE5.values), algo=SimpleNamespace(alpha=0.1, cw_target=False))
    joint = torch.tensor(list(itertools.product(range(3), repeat=2)))
    ctx = SimpleNamespace(
        learner=learner, T=1, state=torch.ones(9, 1, 1), now=lambda x: x[:, :1],
        rounds=SimpleNamespace(greedy=[torch.tensor(u_tilde).expand(9, 1, 2)]),
    )
    fitted = SimpleNamespace(actions=joint.unsqueeze(1), target=torch.tensor(TABLE5.values, dtype=torch.float32).reshape(9, 1))
    w = LOSS_WEIGHTS["cw"](ctx, 0, fitted, torch.zeros(9, 1))
    np.testing.assert_allclose(w.reshape(3, 3).numpy(), eq3_weights(TABLE5.values, u_tilde, alpha=0.1), rtol=1e-6)


def test_ow_weights():
    ctx = SimpleNamespace(learner=SimpleNamespace(algo=SimpleNamespace(alpha=0.1)))
    fitted = SimpleNamespace(target=torch.tensor([1.0, 1.0, 1.0]))
    w = LOSS_WEIGHTS["ow"](ctx, 0, fitted, torch.tensor([0.0, 1.0, 2.0]))
    assert w.tolist() == pytest.approx([1.0, 0.1, 0.1])


def test_qtran_losses_match_their_definitions():
    torch.manual_seed(0)
    learner = Learner(load_algo("qtran"), make_env("matrix:table5").info, seed=0)
    ctx = Context(learner, _batch(learner), epsilon=1.0)
    got = AUX_LOSSES["qtran"](ctx)
    with torch.no_grad():
        q = ctx.rounds.qs[0][:, 0]  # (B, n, A)
        acts = ctx.actions[:, 0]
        v = learner.mixer.v(ctx.state[:, 0]).squeeze(-1)
        greedy = q.argmax(-1)
        jt = lambda a: learner.joint(ctx.state[:, 0], a)
        opt = q.max(-1).values.sum(-1) - jt(greedy) + v  # sum_i max Q_i = sum_i Q_i(ubar)
        nopt = torch.clamp(q.gather(-1, acts.unsqueeze(-1)).squeeze(-1).sum(-1) - jt(acts) + v, max=0.0)
    assert float(got["qtran_opt"].detach()) == pytest.approx(float((opt**2).mean()), rel=1e-5)
    assert float(got["qtran_nopt"].detach()) == pytest.approx(float((nopt**2).mean()), rel=1e-5)
    assert float(got["qtran_nopt"].detach()) > 0.0


@pytest.mark.parametrize("name", ["vdn", "qmix", "wqmix", "ow_qmix", "qplex", "qtran", "resq", "mrvf", "nonmono_qmix_rnd"])
def test_update_reduces_the_loss(name):
    torch.manual_seed(0)
    learner = Learner(dataclasses.replace(load_algo(name), sample_epsilon=-1.0), make_env("matrix:qtran").info, seed=0)
    batch = _batch(learner, "matrix:qtran", episodes=32)
    first = learner.update(batch, epsilon=1.0)["losses/total"]
    for _ in range(15):
        last = learner.update(batch, epsilon=1.0)["losses/total"]
    assert np.isfinite(last) and last < first


def test_rnd_bonus_is_added_to_the_reward():
    algo = load_algo("nonmono_qmix_rnd")
    learner = Learner(algo, make_env("matrix:table5").info, seed=0)
    batch = _batch(learner, episodes=8)
    ctx = Context(learner, batch, epsilon=1.0)
    with torch.no_grad():
        bonus = algo.rnd_beta * learner.rnd.error(batch["state"][:, 1:])
    torch.testing.assert_close(ctx.reward, batch["reward"][:, :1] + bonus)
    assert (bonus > 0).all()


# -- MRVF's ablations (Appendix F) ---------------------------------------------------------


@pytest.mark.parametrize("name, increment", [("mrvf", True), ("mrvf_nonstrict", False)])
def test_mrvf_round_targets_increment_or_not(name, increment):
    """Round 2's target on MRVF Table 5's payoff: the clipped increment (Table 2) or Q_jt itself."""
    algo = load_algo(name)
    assert algo.increment is increment and algo.rounds == 3
    learner = Learner(algo, make_env("matrix:table5").info, seed=0)
    learner.joint = TableQ(TABLE5.values)
    ctx = Context(learner, _batch(learner, episodes=256), epsilon=1.0)
    prev = ctx.now(ctx.rounds.greedy[0])[:, 0]
    fitted = TARGETS["joint_value"](ctx, 1)
    u = fitted.actions[:, 0]
    q_u = torch.tensor(TABLE5.values, dtype=torch.float32)[u[:, 0], u[:, 1]]
    q_prev = torch.tensor(TABLE5.values, dtype=torch.float32)[prev[:, 0], prev[:, 1]]
    want = torch.clamp(q_u - q_prev, min=0.0) if increment else q_u
    torch.testing.assert_close(fitted.target[:, 0], want)
    assert bool((want != q_u).any()) is increment  # the two readings differ on this batch


def test_mrvf_single_is_one_round_of_mrvf():
    single, full = load_algo("mrvf_single"), load_algo("mrvf")
    assert single.rounds == 1 and single.target == full.target == "joint_value"
    learner = Learner(single, make_env("matrix:table5").info, seed=0)
    assert learner.agent.cond_dim == 0  # nothing to condition on
    stats = learner.update(_batch(learner, episodes=32), epsilon=1.0)
    assert "losses/tot" in stats and "losses/tot_r2" not in stats
