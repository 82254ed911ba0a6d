"""The learner's batched GRU unroll must equal stepping the agent one time step at a time."""

import torch

from stablepoint.rl.agents import RNNAgent
from stablepoint.rl.learner import Learner


def test_unroll_matches_stepwise_recurrence():
    torch.manual_seed(0)
    B, T1, n, D = 3, 5, 4, 7
    agent = RNNAgent(D, n_actions=6, hidden=16)
    inputs = torch.randn(B, T1, n, D)
    unrolled = Learner.unroll(agent, inputs)
    assert unrolled.shape == (B, T1, n, 16)
    for b in range(B):
        for i in range(n):
            h = agent.init_hidden(1, None)
            for t in range(T1):
                h = agent.recur(inputs[b, t, i].reshape(1, D), h)
                torch.testing.assert_close(unrolled[b, t, i], h[0])
