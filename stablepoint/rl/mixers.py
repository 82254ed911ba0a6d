"""Mixers: how the agents' chosen utilities become Q_tot, looked up by name in :data:`MIXERS`.

Every mixer has the same call: ``mixer(chosen_qs, state, ctx) -> q_tot`` with

* ``chosen_qs`` : ``(..., n_agents)``, each agent's utility of its action in the joint action;
* ``state`` : ``(..., state_dim)``;
* ``ctx`` : a :class:`MixContext` holding what the non-monotonic forms need (the joint
  action one-hot, the agents' maximum utilities, whether the joint action is the current
  greedy one).

and returns ``(...,)``.  Forwards never merge leading axes and broadcast them (``state`` may
be shared, size 1, along axes where ``chosen_qs`` varies), so one mixer class serves a single
learner, whose leading axes are (batch, time), and a stacked population
(:mod:`stablepoint.rl.stacked`), whose leading axis is the member.  The forms, with ubar the greedy joint action of the utilities:

=============  ==============================================================================
``vdn``        Q_tot = sum_i Q_i                                   (Sunehag et al. 2017)
``qmix``       hypernetworks of the state, ``abs`` weights: dQ_tot/dQ_i >= 0 (Rashid et al. 2018)
``nonmono_qmix`` the same network without ``abs`` (Beyond Monotonicity, Eq. 25)
``qplex``      Q_tot = sum_i V_i + sum_i lambda_i(s, u) A_i, V_i = w_i max Q_i + b_i,
               A_i = w_i (Q_i - max Q_i) <= 0, w_i, lambda_i > 0  (MRVF Eq. 27)
``qtran``      Q'_jt = sum_i Q_i, plus a state value V(s) read by the QTRAN losses
``resq``       Q_tot = Q_mon + w_r Q_r, Q_r <= 0, w_r = 0 at ubar (MRVF Eq. 24-25)
``na2q``       Q_tot = sum_k alpha_k f_k + V(s), monotone shape functions of single utilities and
               pairs, attention credits (Liu et al. 2023; :mod:`stablepoint.rl.na2q`)
=============  ==============================================================================

:class:`JointQ` is the unrestricted joint-action network Q^_jt(s, u) (MRVF Sec. 4.2,
WQMIX's Q*, QTRAN's Q_jt): it reads the state and the whole joint action.

>>> import torch
>>> mix = make_mixer("qmix", n_agents=2, n_actions=3, state_dim=4)
>>> qs, s = torch.zeros(5, 2), torch.zeros(5, 4)
>>> tuple(mix(qs, s, MixContext.for_actions(torch.zeros(5, 2, dtype=torch.long), torch.zeros(5, 2), 3)).shape)
(5,)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import torch
from torch import nn

from stablepoint.errors import SettingsError
from stablepoint.rl.agents import cat_features, joint_onehot
from stablepoint.rl.na2q import NA2QMixer

__all__ = [
    "MixContext",
    "VDNMixer",
    "QMixer",
    "QPLEXMixer",
    "QTRANMixer",
    "ResQMixer",
    "JointQ",
    "MIXERS",
    "make_mixer",
]

#: Keeps QPLEX's positive weights away from exactly zero.
_POSITIVE_FLOOR = 1e-10


@dataclass(frozen=True)
class MixContext:
    """What a mixer may read besides the chosen utilities and the state.

    Attributes
    ----------
    actions : Tensor of int, shape (..., n_agents)
        The joint action being scored.
    n_actions : int
    max_qs : Tensor, shape (..., n_agents)
        Each agent's maximum utility over its available actions.
    is_greedy : Tensor of bool, shape (...,)
        Whether the joint action equals the current greedy joint action ubar.
    """

    actions: torch.Tensor
    n_actions: int
    max_qs: torch.Tensor
    is_greedy: torch.Tensor

    @cached_property
    def actions_onehot(self) -> torch.Tensor:
        """The joint action one-hot ``(..., n_agents * n_actions)``, built when a mixer reads it."""
        return joint_onehot(self.actions, self.n_actions)

    @classmethod
    def for_actions(cls, actions, greedy, n_actions, max_qs=None, chosen=None):
        """Build a context for joint ``actions`` ``(..., n)`` given ``greedy`` actions ``(..., n)``.

        ``max_qs`` defaults to ``chosen`` (the utilities of ``actions``), which is right when the
        actions are the greedy ones; when both are omitted zeros are used (shape checks only).
        """
        actions = actions.long()
        if max_qs is None:
            max_qs = chosen if chosen is not None else torch.zeros(actions.shape, dtype=torch.float32, device=actions.device)
        is_greedy = (actions == greedy.long()).all(dim=-1)
        return cls(actions, int(n_actions), max_qs, is_greedy)


def _mlp(sizes, final_act=False):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or final_act:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VDNMixer(nn.Module):
    """Q_tot = sum_i Q_i."""

    def __init__(self, n_agents, n_actions, state_dim, mixing_embed=32, hypernet_embed=64):
        super().__init__()

    def forward(self, chosen_qs, state, ctx=None):
        return chosen_qs.sum(dim=-1)


class QMixer(nn.Module):
    """QMIX: a one-hidden-layer mixing net whose weights are hypernetworks of the state.

    With ``monotone=True`` the weights pass through ``abs``, so dQ_tot/dQ_i >= 0 everywhere;
    ``monotone=False`` is the non-monotonic QMIX of Beyond Monotonicity (Eq. 25).
    """

    def __init__(self, n_agents, n_actions, state_dim, mixing_embed=32, hypernet_embed=64, monotone=True):
        super().__init__()
        self.n_agents, self.embed, self.monotone = n_agents, mixing_embed, monotone
        self.hyper_w1 = _mlp([state_dim, hypernet_embed, mixing_embed * n_agents])
        self.hyper_b1 = nn.Linear(state_dim, mixing_embed)
        self.hyper_w2 = _mlp([state_dim, hypernet_embed, mixing_embed])
        self.hyper_b2 = _mlp([state_dim, mixing_embed, 1])

    def _sign(self, w):
        return torch.abs(w) if self.monotone else w

    def forward(self, chosen_qs, state, ctx=None):
        w1 = self._sign(self.hyper_w1(state)).unflatten(-1, (self.n_agents, self.embed))
        hidden = nn.functional.elu((chosen_qs.unsqueeze(-2) @ w1).squeeze(-2) + self.hyper_b1(state))
        w2 = self._sign(self.hyper_w2(state))
        return (hidden * w2).sum(dim=-1) + self.hyper_b2(state).squeeze(-1)


class QPLEXMixer(nn.Module):
    """Duplex dueling mixing (MRVF Eq. 27), with a dense positive lambda(s, u).

    Transformed utilities ``w_i(s) Q_i + b_i(s)`` with ``w_i > 0`` give V_i and A_i <= 0;
    ``lambda_i(s, u) > 0`` (an MLP of the state and the joint action, made positive by
    ``abs``) weighs the advantages.  QPLEX's multi-head attention for lambda is replaced by
    this MLP: only lambda's positivity matters for the IGM property.
    """

    def __init__(self, n_agents, n_actions, state_dim, mixing_embed=32, hypernet_embed=64):
        super().__init__()
        self.w = _mlp([state_dim, hypernet_embed, n_agents])
        self.b = _mlp([state_dim, hypernet_embed, n_agents])
        self.lam = _mlp([state_dim + n_agents * n_actions, hypernet_embed, n_agents])

    def forward(self, chosen_qs, state, ctx):
        w = torch.abs(self.w(state)) + _POSITIVE_FLOOR
        v = w * ctx.max_qs + self.b(state)
        adv = w * (chosen_qs - ctx.max_qs)
        lam = torch.abs(self.lam(cat_features(state, ctx.actions_onehot))) + _POSITIVE_FLOOR
        return v.sum(dim=-1) + (lam * adv).sum(dim=-1)


class QTRANMixer(nn.Module):
    """QTRAN-base's factorized Q'_jt = sum_i Q_i and its state value V(s).

    ``forward`` returns Q'_jt; :meth:`state_value` gives V(s).  The constraints that tie them
    to Q_jt (L_opt, L_nopt) are the ``qtran`` auxiliary loss of the learner.
    """

    def __init__(self, n_agents, n_actions, state_dim, mixing_embed=32, hypernet_embed=64):
        super().__init__()
        self.v = _mlp([state_dim, hypernet_embed, 1])

    def forward(self, chosen_qs, state, ctx=None):
        return chosen_qs.sum(dim=-1)

    def state_value(self, state):
        return self.v(state).squeeze(-1)


class ResQMixer(nn.Module):
    """ResQ: Q_tot = Q_mon + w_r Q_r with Q_mon a QMIX mixer, Q_r = -|f(s, u)| <= 0 and
    the residual mask w_r = 0 at the greedy joint action, 1 elsewhere (MRVF Eq. 24-25).

    :meth:`parts` returns ``(q_mon, q_r)`` for inspection and tests.
    """

    def __init__(self, n_agents, n_actions, state_dim, mixing_embed=32, hypernet_embed=64):
        super().__init__()
        self.mon = QMixer(n_agents, n_actions, state_dim, mixing_embed, hypernet_embed, monotone=True)
        self.res = _mlp([state_dim + n_agents * n_actions, hypernet_embed, hypernet_embed, 1])

    def parts(self, chosen_qs, state, ctx):
        q_mon = self.mon(chosen_qs, state)
        q_r = -torch.abs(self.res(cat_features(state, ctx.actions_onehot)).squeeze(-1))
        return q_mon, q_r

    def forward(self, chosen_qs, state, ctx):
        q_mon, q_r = self.parts(chosen_qs, state, ctx)
        w_r = (~ctx.is_greedy).to(q_r.dtype)
        return q_mon + w_r * q_r


class JointQ(nn.Module):
    """Unrestricted joint-action value Q^_jt(s, u): a 3-layer MLP of the state and joint action.

    Parameters
    ----------
    n_agents, n_actions, state_dim : int
    hidden : int
        Width of the hidden layers (MRVF Appendix E doubles 64 to 128 for concatenated features).
    """

    def __init__(self, n_agents, n_actions, state_dim, hidden=128):
        super().__init__()
        self.n_actions = n_actions
        self.net = _mlp([state_dim + n_agents * n_actions, hidden, hidden, 1])

    def forward(self, state, actions):
        """``state (..., state_dim)``, ``actions (..., n_agents)`` int -> ``(...,)``."""
        return self.net(cat_features(state, joint_onehot(actions, self.n_actions))).squeeze(-1)


def _nonmono(n_agents, n_actions, state_dim, mixing_embed=32, hypernet_embed=64):
    return QMixer(n_agents, n_actions, state_dim, mixing_embed, hypernet_embed, monotone=False)


#: mixer name -> constructor ``(n_agents, n_actions, state_dim, mixing_embed, hypernet_embed)``.
MIXERS: dict[str, Callable[..., nn.Module]] = {
    "vdn": VDNMixer,
    "qmix": QMixer,
    "nonmono_qmix": _nonmono,
    "qplex": QPLEXMixer,
    "qtran": QTRANMixer,
    "resq": ResQMixer,
    "na2q": NA2QMixer,
}


def make_mixer(name, n_agents, n_actions, state_dim, mixing_embed=32, hypernet_embed=64) -> nn.Module:
    """Build the mixer registered as ``name`` (or call ``name`` if it is a constructor)."""
    if callable(name):
        return name(n_agents, n_actions, state_dim, mixing_embed, hypernet_embed)
    try:
        ctor = MIXERS[name]
    except KeyError:
        raise SettingsError(f"unknown mixer {name!r}; choose one of: {', '.join(MIXERS)}") from None
    return ctor(n_agents, n_actions, state_dim, mixing_embed, hypernet_embed)
