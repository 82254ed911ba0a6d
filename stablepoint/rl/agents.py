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

__all__ = ["RNNAgent", "GRUCell", "agent_inputs", "joint_onehot", "cat_features", "NO_ROUND"]

#: Value written in the "first round" flag slot of the condition vector.
NO_ROUND = 1.0


def cat_features(*xs: torch.Tensor) -> torch.Tensor:
    """Concatenate along the last axis after broadcasting the leading axes.

    Population tensors keep a size-1 axis where a value is shared (the constant state of a
    one-step game is one row per member, not one per sample), so inputs of one layer may
    differ in their leading shape.

    >>> cat_features(torch.zeros(1, 2), torch.ones(3, 1, 1)).shape
    torch.Size([3, 1, 3])
    """
    if all(x.shape[:-1] == xs[0].shape[:-1] for x in xs[1:]):
        return torch.cat(xs, dim=-1)
    lead = torch.broadcast_shapes(*(x.shape[:-1] for x in xs))
    return torch.cat([x.expand(*lead, x.shape[-1]) for x in xs], dim=-1)


class GRUCell(nn.GRUCell):
    """:class:`torch.nn.GRUCell` over any leading axes ``(..., input) -> (..., hidden)``.

    Same parameters and state-dict keys as ``nn.GRUCell``; the leading axes are flattened
    here, inside the cell, so a stacked (population) cell can keep its member axis.
    """

    def forward(self, inputs: torch.Tensor, hidden: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        if hidden is None:  # the zero state
            return super().forward(inputs.reshape(-1, inputs.shape[-1])).view(*inputs.shape[:-1], self.hidden_size)
        if inputs.dim() == 2 and hidden.dim() == 2:  # the acting path: nothing to reshape
            return super().forward(inputs, hidden)
        lead = torch.broadcast_shapes(inputs.shape[:-1], hidden.shape[:-1])
        x = inputs.expand(*lead, inputs.shape[-1]).reshape(-1, inputs.shape[-1])
        h = hidden.expand(*lead, hidden.shape[-1]).reshape(-1, hidden.shape[-1])
        return super().forward(x, h).view(*lead, self.hidden_size)

    def sequence(self, inputs: torch.Tensor) -> torch.Tensor:
        """GRU states over a whole sequence from the zero state, in one fused call.

        ``inputs (..., T, m, input)`` -> ``(..., T, m, hidden)``: what stepping the cell over
        axis ``-3`` from ``hidden=None`` gives (equal to float32 rounding), computed by torch's
        multi-layer GRU kernel (``torch._VF.gru``, cuDNN on a GPU) with this cell's own
        parameters, so parameters, gradients and state-dict keys are the cell's.
        """
        T, m, D = inputs.shape[-3:]
        lead = inputs.shape[:-3]
        xs = inputs.movedim(-3, 0).reshape(T, -1, D)  # time-major (T, batch, input)
        h0 = xs.new_zeros(1, xs.shape[1], self.hidden_size)
        weights = [self.weight_ih, self.weight_hh] + ([self.bias_ih, self.bias_hh] if self.bias else [])
        if xs.is_cuda:  # cuDNN's RNN would use TF32 by default; the stepwise cell is float32
            cudnn, before = torch.backends.cudnn, torch.backends.cudnn.allow_tf32
            cudnn.allow_tf32 = False
            try:
                out, _ = torch._VF.gru(xs, h0, weights, self.bias, 1, 0.0, self.training, False, False)
            finally:
                cudnn.allow_tf32 = before
        else:
            out, _ = torch._VF.gru(xs, h0, weights, self.bias, 1, 0.0, self.training, False, False)
        return out.view(T, *lead, m, self.hidden_size).movedim(0, -3)


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
        self.rnn = GRUCell(hidden, hidden)
        if cond_dim:
            self.cond = nn.Linear(cond_dim, hidden)
            self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))
        else:
            self.head = nn.Linear(hidden, n_actions)

    def init_hidden(self, batch: int, device=None) -> torch.Tensor:
        """Zero hidden state, shape ``(batch, hidden)``."""
        return torch.zeros(batch, self.hidden, device=device if device is not None else self.fc1.weight.device)

    def recur(self, inputs: torch.Tensor, hidden: torch.Tensor | None) -> torch.Tensor:
        """One GRU step: ``inputs (..., input_dim)``, ``hidden (..., hidden)`` (None: zeros) -> new hidden."""
        return self.rnn(torch.relu(self.fc1(inputs)), hidden)

    def unroll(self, inputs: torch.Tensor, fused: bool = True) -> torch.Tensor:
        """GRU states ``(..., T, n, hidden)`` for inputs ``(..., T, n, input_dim)`` from the zero state.

        With ``fused`` and a plain :class:`GRUCell`, one fused GRU call over the whole sequence
        (:meth:`GRUCell.sequence`); otherwise (``fused=False``, the oracle, or a stacked
        population cell) :meth:`unroll_stepwise`.
        """
        if fused and isinstance(self.rnn, GRUCell) and inputs.shape[-3] > 0:
            return self.rnn.sequence(torch.relu(self.fc1(inputs)))
        return self.unroll_stepwise(inputs)

    def unroll_stepwise(self, inputs: torch.Tensor) -> torch.Tensor:
        """:meth:`unroll` one :meth:`recur` step at a time (the reference, and the stacked cells' path)."""
        h = None  # the zero state, which a stacked cell can skip multiplying
        out = []
        for t in range(inputs.shape[-3]):
            h = self.recur(inputs[..., t, :, :], h)
            out.append(h)
        return torch.stack(out, dim=-3)

    def q_values(self, hidden: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Utilities ``(..., n_actions)`` from hidden states ``(..., hidden)`` and a condition."""
        if not self.cond_dim:
            return self.head(hidden)
        return self.head(cat_features(hidden, torch.relu(self.cond(cond))))

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
        parts.append(torch.eye(n_agents, device=obs.device))
    # the last actions may vary per sample where the observations do not (population batches)
    return cat_features(*parts)
