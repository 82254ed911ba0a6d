"""The fused GRU unroll (torch's multi-step GRU kernel) against the step-by-step oracle.

For every shipped algorithm, on small predator-prey batches with padding (episodes of
different lengths, trimmed to the longest) and early-terminated episodes, one update with
the fused unroll must give the losses, GRU states, utilities and gradients of the same
update with the step-by-step unroll, to float32 rounding.  MRVF's per-round heads (the
condition broadcast over the agents) are checked against the original per-agent loop.
"""

from __future__ import annotations

import copy

import pytest
import torch

from stablepoint.rl.agents import RNNAgent
from stablepoint.rl.config import list_algos, make_config
from stablepoint.rl.controller import Controller, LinearSchedule
from stablepoint.rl.envs import make_env
from stablepoint.rl.learner import Context, Learner, Rounds, masked_argmax, next_condition, first_condition, run_rounds
from stablepoint.rl.runner import run_episodes

#: a small predator-prey: captures (early termination) happen within the short limit
ENV = "predator_prey:grid_size=4,n_predators=3,n_prey=1,episode_limit=10,punishment=-2"
RTOL, ATOL = 1e-5, 1e-6


def _batches():
    """Two batches of 6 episodes: lengths differ (padding) and some episodes terminate early."""
    env = make_env(ENV, 6, seed=1)
    cfg = make_config(ENV, "qmix")
    learner = Learner(cfg.algo, env.info, cfg.env.gamma, seed=0)
    ctl = Controller(learner, LinearSchedule(1.0, 1.0, 1), seed=2)
    out = []
    while len(out) < 2:
        batch, _ = run_episodes(env, ctl, test_mode=False, t_env=0)
        t = batch.trimmed().to_torch("cpu")
        lengths = t["filled"].sum(1)
        if bool(t["terminated"].any()) and int(lengths.min()) < int(lengths.max()):
            out.append(t)
    return env.info, out


@pytest.fixture(scope="module")
def batches():
    return _batches()


def test_batches_have_padding_and_early_termination(batches):
    _, bs = batches
    for b in bs:
        lengths = b["filled"].sum(1)
        assert int(lengths.min()) < b["filled"].shape[1] - 1  # padded episodes
        assert bool(b["terminated"].any())


def test_fused_unroll_equals_stepwise_with_gradients():
    torch.manual_seed(0)
    agent = RNNAgent(7, n_actions=5, hidden=16)
    x = torch.randn(3, 6, 4, 7)
    fused = agent.unroll(x)
    step = agent.unroll_stepwise(x)
    torch.testing.assert_close(fused, step, rtol=RTOL, atol=ATOL)
    w = torch.randn_like(step)
    g_f = torch.autograd.grad((fused * w).sum(), list(agent.parameters()), allow_unused=True)
    g_s = torch.autograd.grad((step * w).sum(), list(agent.parameters()), allow_unused=True)
    for a, b in zip(g_f, g_s):
        if a is None or b is None:
            assert a is None and b is None
        else:
            torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)
    # the fused path adds no parameters: checkpoints keep their keys
    assert sorted(agent.state_dict()) == sorted(RNNAgent(7, 5, 16).state_dict())


def _old_run_rounds(agent, hidden, avail, rounds):
    """run_rounds before the condition was broadcast inside the head (one condition row per agent)."""
    n, A = avail.shape[-2], avail.shape[-1]
    lead = hidden.shape[:-2]
    out = Rounds([], [], [])
    cond = first_condition(lead, n, A, hidden.device)
    for _ in range(rounds):
        q = agent.q_values(hidden, cond.unsqueeze(-2).expand(*lead, n, cond.shape[-1]))
        g = masked_argmax(q.detach(), avail)
        out.qs.append(q)
        out.greedy.append(g)
        out.conds.append(cond)
        cond = next_condition(g, A)
    return out


def test_rounds_equal_the_per_agent_condition_loop():
    torch.manual_seed(1)
    n, A, H = 3, 4, 16
    agent = RNNAgent(5, A, H, cond_dim=1 + n * A)
    hidden = torch.randn(2, 7, n, H, requires_grad=True)
    avail = torch.rand(2, 7, n, A) > 0.3
    avail[..., 0] = True
    new, old = run_rounds(agent, hidden, avail, 3), _old_run_rounds(agent, hidden, avail, 3)
    for k in range(3):
        assert torch.equal(new.greedy[k], old.greedy[k])
        torch.testing.assert_close(new.qs[k], old.qs[k], rtol=RTOL, atol=ATOL)
    w = [torch.randn_like(q) for q in new.qs]
    params = [hidden, *agent.parameters()]
    g_new = torch.autograd.grad(sum((q * v).sum() for q, v in zip(new.qs, w)), params, allow_unused=True)
    g_old = torch.autograd.grad(sum((q * v).sum() for q, v in zip(old.qs, w)), params, allow_unused=True)
    for a, b in zip(g_new, g_old):
        if a is not None:
            torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)


def _grads(learner):
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in learner.params]


@pytest.mark.parametrize("algo_name", list_algos())
def test_fused_update_equals_stepwise_update(algo_name, batches):
    info, (first, second) = batches
    cfg = make_config(ENV, algo_name)
    torch.manual_seed(3)
    fused = Learner(cfg.algo, info, cfg.env.gamma, seed=5)
    fused.update(first, epsilon=0.5)  # online and target networks now differ; Adam has state
    step = copy.deepcopy(fused)
    step.fused_unroll = False
    assert fused.fused_unroll and not step.fused_unroll

    # the forward pieces: GRU states, target states and every round's utilities
    with torch.no_grad():
        cf, cs = Context(fused, second, 0.5), Context(step, second, 0.5)
        torch.testing.assert_close(cf.hidden, cs.hidden, rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(cf.hidden_target, cs.hidden_target, rtol=RTOL, atol=ATOL)
        for qf, qs in zip(cf.rounds.qs, cs.rounds.qs):
            torch.testing.assert_close(qf, qs, rtol=RTOL, atol=ATOL)

    stats_f = fused.update(second, epsilon=0.5)
    stats_s = step.update(second, epsilon=0.5)
    assert stats_f.keys() == stats_s.keys()
    for key in stats_f:
        torch.testing.assert_close(torch.tensor(stats_f[key]), torch.tensor(stats_s[key]), rtol=RTOL, atol=ATOL,
                                   msg=lambda m, key=key: f"{key}: {m}")
    # gradients (after clipping, which both apply alike)
    for gf, gs in zip(_grads(fused), _grads(step)):
        scale = max(float(gs.abs().max()), 1.0)
        torch.testing.assert_close(gf, gs, rtol=RTOL, atol=ATOL * scale)
