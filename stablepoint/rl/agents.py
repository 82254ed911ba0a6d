"""The shared recurrent agent network: one GRU for every agent (parameter sharing).

Each agent feeds its observation (plus a one-hot agent id, optionally its last
action) through ``Linear -> ReLU -> GRUCell(64)``; a head maps the hidden
state to one utility Q_i per action.  Multi-round value factorization (MRVF
Sec. 4.2) conditions the head on the previous round's greedy joint action
ubar^{k-1}: the GRU runs once per time step and only the head runs once per
round, so K rounds cost K small heads, not K recurrent passes.

>>> import torch
>>> net = RNNAgent(input_dim=5, n_actions=3, hidden=8)
>>> h = net.init_hidden(4)
>>> q, h = net(torch.zeros(4, 5), h)
>>> tuple(q.shape), tuple(h.shape)
((4, 3), (4, 8))
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["RNNAgent", "agent_inputs", "joint_onehot", "NO_ROUND"]

#: Value written in the "first round" flag slot of the condition vector.
NO_ROUND = 1.0


class RNNAgent(nn.Module):
    """``Linear -> ReLU -> GRUCell -> head`` with an optional condition input to the head.

    Parameters
    ----------
    input_dim : int
        Per-agent input size (observation + id + last action).
    n_actions : int
        Actions per agent.
    hidden : int
        GRU hidden size (MRVF Appendix E: 64).
    cond_dim : int
        Size of the condition vector fed to the head (0: plain head ``Linear(hidden, n_actions)``).
    """

    def __init__(self, input_dim: int, n_actions: int, hidden: int = 64, cond_dim: int = 0):
        super().__init__()
        self.hidden = hidden
        self.cond_dim = cond_dim
        self.fc1 = nn.Linear(input_dim, hidden)
        self.rnn = nn.GRUCell(hidden, hidden)
        if cond_dim:
            self.cond = nn.Linear(cond_dim, hidden)
            self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))
        else:
            self.head = nn.Linear(hidden, n_actions)

    def init_hidden(self, batch: int, device=None) -> torch.Tensor:
        """Zero hidden state, shape ``(batch, hidden)``."""
        return torch.zeros(batch, self.hidden, device=device if device is not None else self.fc1.weight.device)

    def recur(self, inputs: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """One GRU step: ``inputs (B, input_dim)``, ``hidden (B, hidden)`` -> new hidden."""
        return self.rnn(torch.relu(self.fc1(inputs)), hidden)

    def q_values(self, hidden: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Utilities ``(..., n_actions)`` from hidden states ``(..., hidden)`` and a condition."""
        if not self.cond_dim:
            return self.head(hidden)
        return self.head(torch.cat([hidden, torch.relu(self.cond(cond))], dim=-1))

    def forward(self, inputs, hidden, cond=None):
        """``(q, new_hidden)`` for one time step."""
        h = self.recur(inputs, hidden)
        return self.q_values(h, cond), h


def joint_onehot(actions: torch.Tensor, n_actions: int) -> torch.Tensor:
    """One-hot of a joint action, flattened over agents: ``(..., n) -> (..., n * n_actions)``."""
    oh = torch.nn.functional.one_hot(actions.long(), n_actions).to(torch.float32)
    return oh.flatten(-2)


def agent_inputs(obs: torch.Tensor, last_actions: torch.Tensor | None, n_actions: int, agent_id: bool) -> torch.Tensor:
    """Per-agent network inputs ``(..., n_agents, input_dim)``.

    Parameters
    ----------
    obs : Tensor, shape (..., n_agents, obs_dim)
    last_actions : Tensor of int, shape (..., n_agents), or None
        Previous actions (appended one-hot when given; use zeros-as-"none" via ``-1``).
    n_actions : int
    agent_id : bool
        Append a one-hot agent index so shared weights can tell agents apart.
    """
    parts = [obs.to(torch.float32)]
    n_agents = obs.shape[-2]
    if last_actions is not None:
        la = last_actions.long()
        oh = torch.nn.functional.one_hot(la.clamp(min=0), n_actions).to(torch.float32)
        parts.append(oh * (la >= 0).unsqueeze(-1))
    if agent_id:
        eye = torch.eye(n_agents, device=obs.device)
        parts.append(eye.expand(*obs.shape[:-2], n_agents, n_agents))
    return torch.cat(parts, dim=-1)
