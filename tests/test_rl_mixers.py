"""Each mixer's defining property, checked on random networks and random utilities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from stablepoint.errors import SettingsError
from stablepoint.rl.agents import RNNAgent, agent_inputs, joint_onehot
from stablepoint.rl.mixers import MIXERS, JointQ, MixContext, make_mixer

torch.set_num_threads(1)
N_AGENTS, N_ACTIONS, STATE_DIM = 3, 4, 5
JOINT = torch.tensor(list(itertools.product(range(N_ACTIONS), repeat=N_AGENTS)))  # (64, 3)


def _utilities(batch, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, N_AGENTS, N_ACTIONS, generator=g) * 3, torch.randn(batch, STATE_DIM, generator=g)


def _all_joint(mixer, q, state):
    """Q_tot of every joint action for each of B (utilities, state) pairs: (B, |U|)."""
    B, m = q.shape[0], JOINT.shape[0]
    chosen = q[:, torch.arange(N_AGENTS), JOINT]  # (B, m, n)
    greedy = q.argmax(-1)
    ctx = MixContext.for_actions(
        JOINT.expand(B, m, N_AGENTS), greedy.unsqueeze(1).expand(B, m, N_AGENTS), N_ACTIONS,
        max_qs=q.max(-1).values.unsqueeze(1).expand(B, m, N_AGENTS),
    )
    return mixer(chosen, state.unsqueeze(1).expand(B, m, STATE_DIM), ctx), greedy


def _grad_wrt_utilities(mixer, seed):
    torch.manual_seed(seed)
    q, s = _utilities(64, seed)
    chosen = q[..., 0].clone().requires_grad_(True)
    ctx = MixContext.for_actions(torch.zeros(64, N_AGENTS, dtype=torch.long), torch.zeros(64, N_AGENTS), N_ACTIONS, chosen=chosen)
    mixer(chosen, s, ctx).sum().backward()
    return chosen.grad


@pytest.mark.parametrize("seed", range(5))
def test_qmix_is_monotone_in_every_utility(seed):
    torch.manual_seed(seed)
    mixer = make_mixer("qmix", N_AGENTS, N_ACTIONS, STATE_DIM)
    grad = _grad_wrt_utilities(mixer, seed)
    assert grad.shape == (64, N_AGENTS)
    assert (grad >= 0).all()
    assert (grad > 0).any()  # not vacuous: the mixer actually reads the utilities


def test_nonmonotonic_qmix_drops_the_constraint():
    # Same architecture without abs: random initialisations give negative partial derivatives.
    negative = 0
    for seed in range(5):
        torch.manual_seed(seed)
        grad = _grad_wrt_utilities(make_mixer("nonmono_qmix", N_AGENTS, N_ACTIONS, STATE_DIM), seed)
        negative += int((grad < 0).sum())
    assert negative > 0
    qmix, nonmono = make_mixer("qmix", 2, 3, 4), make_mixer("nonmono_qmix", 2, 3, 4)
    assert [p.shape for p in qmix.parameters()] == [p.shape for p in nonmono.parameters()]


def test_vdn_is_the_sum():
    q, s = _utilities(8, 0)
    totals, _ = _all_joint(make_mixer("vdn", N_AGENTS, N_ACTIONS, STATE_DIM), q, s)
    expected = q[:, torch.arange(N_AGENTS), JOINT].sum(-1)
    torch.testing.assert_close(totals, expected)


@pytest.mark.parametrize("seed", range(3))
def test_qplex_duplex_dueling_form_and_igm(seed):
    torch.manual_seed(seed)
    mixer = make_mixer("qplex", N_AGENTS, N_ACTIONS, STATE_DIM)
    q, s = _utilities(16, seed)
    with torch.no_grad():
        totals, greedy = _all_joint(mixer, q, s)
        # Eq. 27: at ubar every advantage is 0, so Q_tot(ubar) = sum_i V_i = sum_i (w_i max Q_i + b_i)
        w = torch.abs(mixer.w(s)) + 1e-10
        v_sum = (w * q.max(-1).values + mixer.b(s)).sum(-1)
        idx = (JOINT.unsqueeze(0) == greedy.unsqueeze(1)).all(-1).float().argmax(-1)
        torch.testing.assert_close(totals[torch.arange(16), idx], v_sum)
        # advantages <= 0 with positive lambda: ubar maximises Q_tot (IGM)
        assert (totals <= v_sum.unsqueeze(1) + 1e-5).all()
        assert torch.equal(totals.argmax(-1), idx)
        # and Q_tot is not just additive: lambda depends on the joint action
        vdn_like = v_sum.unsqueeze(1) + (w.unsqueeze(1) * (q[:, torch.arange(N_AGENTS), JOINT] - q.max(-1).values.unsqueeze(1))).sum(-1)
        assert not torch.allclose(totals, vdn_like)


@pytest.mark.parametrize("seed", range(3))
def test_resq_residual_is_nonpositive_and_masked_at_greedy(seed):
    torch.manual_seed(seed)
    mixer = make_mixer("resq", N_AGENTS, N_ACTIONS, STATE_DIM)
    q, s = _utilities(16, seed)
    B, m = 16, JOINT.shape[0]
    with torch.no_grad():
        totals, greedy = _all_joint(mixer, q, s)
        chosen = q[:, torch.arange(N_AGENTS), JOINT]
        ctx = MixContext.for_actions(JOINT.expand(B, m, N_AGENTS), greedy.unsqueeze(1).expand(B, m, N_AGENTS), N_ACTIONS)
        q_mon, q_r = mixer.parts(chosen, s.unsqueeze(1).expand(B, m, STATE_DIM), ctx)
        assert (q_r <= 0).all() and (q_r < 0).any()
        at_greedy = ctx.is_greedy
        assert int(at_greedy.sum()) == B  # exactly one greedy joint action per sample
        # Eq. 24-25: Q_tot = Q_mon at ubar, Q_mon + Q_r elsewhere
        torch.testing.assert_close(totals[at_greedy], q_mon[at_greedy])
        torch.testing.assert_close(totals[~at_greedy], (q_mon + q_r)[~at_greedy])
        # hence ubar (the utilities' greedy action) maximises Q_tot
        assert (totals.argmax(-1) == at_greedy.float().argmax(-1)).all()


def test_qtran_factorized_value_and_state_value():
    mixer = make_mixer("qtran", N_AGENTS, N_ACTIONS, STATE_DIM)
    q, s = _utilities(8, 1)
    totals, _ = _all_joint(mixer, q, s)
    torch.testing.assert_close(totals, q[:, torch.arange(N_AGENTS), JOINT].sum(-1))
    assert mixer.state_value(s).shape == (8,)


def test_joint_network_reads_the_whole_joint_action():
    torch.manual_seed(0)
    net = JointQ(2, 3, 1, hidden=16)
    acts = torch.tensor(list(itertools.product(range(3), repeat=2)))
    values = net(torch.ones(9, 1), acts)
    assert values.shape == (9,)
    assert len(set(np.round(values.detach().numpy(), 6))) == 9


def test_registry_and_errors():
    assert set(MIXERS) == {"vdn", "qmix", "nonmono_qmix", "qplex", "qtran", "resq", "na2q"}
    with pytest.raises(SettingsError, match="unknown mixer 'nope'; choose one of: vdn"):
        make_mixer("nope", 2, 3, 1)


def test_agent_shares_parameters_and_reads_agent_ids():
    torch.manual_seed(0)
    obs = torch.zeros(2, 3, 4)  # identical observations for all 3 agents
    inputs = agent_inputs(obs, torch.tensor([[0, -1, 2], [1, 1, 1]]), n_actions=3, agent_id=True)
    assert inputs.shape == (2, 3, 4 + 3 + 3)
    assert inputs[0, 1, 4:7].sum() == 0  # "no last action" is all zeros
    net = RNNAgent(10, 3, hidden=64)
    q, h = net(inputs.reshape(6, -1), net.init_hidden(6))
    q = q.view(2, 3, 3)
    assert h.shape == (6, 64)
    assert not torch.allclose(q[0, 0], q[0, 1])  # one network, different agents via ids
    assert joint_onehot(torch.tensor([[2, 0]]), 3).tolist() == [[0, 0, 1, 1, 0, 0]]
