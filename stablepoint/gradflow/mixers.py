"""Mixing functions f_mix(Q_1(a_1), ..., Q_N(a_N); theta) with their parameters as a flat vector.

Every mixer is a pure function of the selected utilities ``qsel`` (shape
``(..., N)``) and a flat parameter vector ``theta`` (shape ``(P,)``), so the
state of the gradient flow is one vector ``x = (q, theta)`` and torch's
function transforms (``grad``, ``jacfwd``, ``hessian``) apply directly.

* ``vdn``: Q_tot = sum_i Q_i (no parameters);
* ``qmix``: a one-hidden-layer MLP whose weights are made non-negative (QMIX's
  monotonicity, dQ_tot/dQ_i >= 0), ELU hidden units as in QMIX.  The weights
  are the squares of the raw parameters: QMIX's ``abs`` makes the field
  discontinuous wherever a weight wants to change sign, and the ODE solvers
  then chatter along w = 0 with vanishing steps; ``qmix-abs`` keeps ``abs``;
* ``nonmono``: the same MLP without ``abs`` (the paper's non-monotonic QMIX);
* :class:`ModuleMixer`: any user ``torch.nn.Module`` mapping ``(..., N)`` to
  ``(..., 1)`` or ``(...)``; its parameters become ``theta``.

In a single-state game QMIX's hypernetworks output constants, so the mixer's
weights are plain parameters here.

>>> import torch
>>> mix = make_mixer("nonmono", n_agents=2, hidden=4)
>>> mix.n_params
17
>>> theta = mix.init_params(seed=0)
>>> mix(torch.zeros(3, 2, dtype=torch.float64), theta).shape
torch.Size([3])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from stablepoint.errors import SettingsError

__all__ = ["Mixer", "VDNMixer", "MLPMixer", "ModuleMixer", "MIXERS", "ACTIVATIONS", "make_mixer"]

#: Hidden-unit nonlinearities by name (ELU is QMIX's; tanh is smooth everywhere).
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "elu": torch.nn.functional.elu,
    "tanh": torch.tanh,
}


class Mixer:
    """Interface of a mixer: ``mixer(qsel, theta) -> q_tot`` plus its size and initialization.

    Attributes
    ----------
    name : str
        Registry name used in reports.
    n_agents : int
        Number of inputs N.
    n_params : int
        Length P of ``theta``.
    monotone : bool
        Whether dQ_tot/dQ_i >= 0 holds for every theta.
    """

    name: str = "mixer"
    n_agents: int
    n_params: int
    monotone: bool = False

    def __call__(self, qsel: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def init_params(self, seed=None, *, dtype=torch.float64, device="cpu") -> torch.Tensor:
        """A random parameter vector (PyTorch's default Linear initialization)."""
        raise NotImplementedError

    def describe(self) -> str:
        """A one-line description for reports."""
        return self.name


@dataclass(frozen=True)
class VDNMixer(Mixer):
    """Q_tot = sum_i Q_i (VDN, Eq. 2); no parameters."""

    n_agents: int
    name: str = "vdn"
    monotone: bool = True
    n_params: int = 0

    def __call__(self, qsel, theta):
        return qsel.sum(-1)

    def init_params(self, seed=None, *, dtype=torch.float64, device="cpu"):
        return torch.zeros(0, dtype=dtype, device=device)


@dataclass(frozen=True)
class MLPMixer(Mixer):
    """Q_tot = w2 . act(W1^T qsel + b1) + b2, weights made non-negative when monotone.

    ``theta`` packs ``W1`` (N x H, row-major), ``b1`` (H), ``w2`` (H), ``b2`` (1).
    """

    n_agents: int
    hidden: int = 8
    monotone: bool = False
    activation: str = "elu"
    name: str = field(default="")
    positivity: str = "square"

    def __post_init__(self):
        if self.positivity not in ("square", "abs"):
            raise SettingsError(f"positivity must be 'square' or 'abs', got {self.positivity!r}")
        if self.hidden < 1:
            raise SettingsError(f"mixer hidden width must be >= 1, got {self.hidden}")
        if self.activation not in ACTIVATIONS:
            raise SettingsError(
                f"unknown activation {self.activation!r}; choose one of: {', '.join(ACTIVATIONS)}"
            )
        if not self.name:
            object.__setattr__(self, "name", "qmix" if self.monotone else "nonmono")

    @property
    def n_params(self) -> int:
        n, h = self.n_agents, self.hidden
        return n * h + 2 * h + 1

    def unpack(self, theta):
        """Split ``theta`` into ``(W1, b1, w2, b2)`` (raw, before ``abs``)."""
        n, h = self.n_agents, self.hidden
        w1 = theta[: n * h].reshape(n, h)
        b1 = theta[n * h : n * h + h]
        w2 = theta[n * h + h : n * h + 2 * h]
        b2 = theta[n * h + 2 * h]
        return w1, b1, w2, b2

    def __call__(self, qsel, theta):
        w1, b1, w2, b2 = self.unpack(theta)
        if self.monotone:
            w1, w2 = (w1.abs(), w2.abs()) if self.positivity == "abs" else (w1 * w1, w2 * w2)
        hidden = ACTIVATIONS[self.activation](qsel @ w1 + b1)
        return hidden @ w2 + b2

    def init_params(self, seed=None, *, dtype=torch.float64, device="cpu"):
        rng = np.random.default_rng(seed)
        n, h = self.n_agents, self.hidden
        b_in, b_out = 1.0 / math.sqrt(n), 1.0 / math.sqrt(h)
        parts = [
            rng.uniform(-b_in, b_in, n * h),
            rng.uniform(-b_in, b_in, h),
            rng.uniform(-b_out, b_out, h),
            rng.uniform(-b_out, b_out, 1),
        ]
        return torch.as_tensor(np.concatenate(parts), dtype=dtype, device=device)

    def describe(self):
        kind = f"monotone ({self.positivity} weights)" if self.monotone else "unconstrained"
        return f"{self.name}: MLP {self.n_agents}-{self.hidden}-1, {self.activation}, {kind}"


class ModuleMixer(Mixer):
    """Wrap a user ``torch.nn.Module`` (``(..., N) -> (..., 1)`` or ``(...)``) as a mixer.

    The module's parameters, flattened in ``named_parameters`` order, are
    ``theta``; the module itself is never mutated (``torch.func.functional_call``).

    Parameters
    ----------
    module : torch.nn.Module
    n_agents : int
    monotone : bool
        Declare whether the module is monotone in its inputs (reports only).
    name : str
    """

    def __init__(self, module: torch.nn.Module, n_agents: int, *, monotone=False, name="module"):
        if not isinstance(module, torch.nn.Module):
            raise SettingsError(f"a module mixer needs a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self.n_agents = int(n_agents)
        self.monotone = bool(monotone)
        self.name = name
        self._names = [k for k, _ in module.named_parameters()]
        self._shapes = [p.shape for _, p in module.named_parameters()]
        self._sizes = [p.numel() for _, p in module.named_parameters()]
        self.n_params = int(sum(self._sizes))

    def __call__(self, qsel, theta):
        params, start = {}, 0
        for key, shape, size in zip(self._names, self._shapes, self._sizes):
            params[key] = theta[start : start + size].reshape(shape)
            start += size
        out = torch.func.functional_call(self.module, params, (qsel,))
        if out.dim() == qsel.dim() and out.shape[-1] == 1:
            out = out.squeeze(-1)
        return out

    def init_params(self, seed=None, *, dtype=torch.float64, device="cpu"):
        # The module's own initial values, jittered by the seed so runs differ.
        base = torch.cat([p.detach().reshape(-1) for p in self.module.parameters()])
        base = base.to(dtype=dtype, device=device)
        if seed is None:
            return base
        rng = np.random.default_rng(seed)
        noise = torch.as_tensor(rng.normal(0.0, 0.1, base.numel()), dtype=dtype, device=device)
        return base + noise

    def describe(self):
        return f"{self.name}: user module with {self.n_params} parameters"


#: Mixer names -> builders ``(n_agents, hidden, activation) -> Mixer``.
MIXERS: dict[str, Callable[..., Mixer]] = {
    "vdn": lambda n_agents, hidden=8, activation="elu": VDNMixer(n_agents),
    "qmix": lambda n_agents, hidden=8, activation="elu": MLPMixer(n_agents, hidden, True, activation),
    "qmix-abs": lambda n_agents, hidden=8, activation="elu": MLPMixer(
        n_agents, hidden, True, activation, "qmix-abs", "abs"),
    "nonmono": lambda n_agents, hidden=8, activation="elu": MLPMixer(n_agents, hidden, False, activation),
}
_ALIASES = {"monotone": "qmix", "mono": "qmix", "mlp": "nonmono", "non-monotonic": "nonmono", "sum": "vdn"}


def make_mixer(spec, n_agents: int, *, hidden: int = 8, activation: str = "elu") -> Mixer:
    """A mixer from a registry name (``vdn``, ``qmix``, ``nonmono``), a Mixer, or an nn.Module.

    Raises
    ------
    SettingsError
        Unknown name (the message lists the valid ones) or wrong number of agents.
    """
    if isinstance(spec, Mixer):
        if spec.n_agents != n_agents:
            raise SettingsError(f"mixer has {spec.n_agents} inputs but the game has {n_agents} agents")
        return spec
    if isinstance(spec, torch.nn.Module):
        return ModuleMixer(spec, n_agents)
    key = _ALIASES.get(str(spec).lower(), str(spec).lower())
    if key not in MIXERS:
        raise SettingsError(f"unknown mixer {spec!r}; choose one of: {', '.join(MIXERS)}")
    return MIXERS[key](n_agents, hidden=int(hidden), activation=activation)
