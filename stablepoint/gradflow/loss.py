"""The losses L_0 and L_tau of Eq. 10-14, the true and semi-gradient fields, Hessians and Jacobians.

The state is one float vector ``x = (q, theta)``: ``q`` concatenates every
agent's utilities (Eq. 8, agent 1's actions first), ``theta`` is the mixer's
parameter vector.  All derivatives are taken with respect to the whole of x,
because without theta in the state the zero-loss set is usually empty.

Both losses are written through one two-argument objective

    G(x_pol, x_val) = sum_a mu(a | q(x_pol)) (y(a) - Q_tot(a; x_val))^2,

so that

* the **true** gradient flow (Eq. 17) is ``dx/dt = -grad_x G(x, x)``: the
  policy is differentiated (it carries the policy-gradient term of Eq. 16);
* the **semi**-gradient flow, what Q-learning actually does, is
  ``dx/dt = -grad_z G(x, z)|_{z=x}``: the policy is held fixed while
  differentiating and re-evaluated at every instant.

The policy is the product of per-agent softmaxes at temperature tau (Eq. 12-13),
optionally mixed with uniform exploration, ``pi_i = (1 - eps) softmax(q_i / tau)
+ eps / |A_i|`` (a smooth epsilon-greedy); ``tau=None`` gives the fixed uniform
policy mu_0 of Eq. 10.

>>> from stablepoint.catalog import get_game
>>> model = LossModel(get_game("game-a"), "vdn", tau=1.0)
>>> x = model.to_tensor([0, 0, 0, 0, 0, 0])
>>> round(float(model.loss(x)), 6)    # mean of y^2 under the uniform softmax
80.0
>>> model.field(x, "semi").shape
torch.Size([6])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from stablepoint.errors import SettingsError
from stablepoint.gradflow.mixers import Mixer, make_mixer
from stablepoint.payoff import Payoff

__all__ = ["LossModel", "GRADIENTS", "check_tau", "check_gradient"]

#: The two flows: ``true`` differentiates the policy (Eq. 17), ``semi`` holds it fixed.
GRADIENTS = ("true", "semi")


def check_tau(tau) -> float | None:
    """Validate a softmax temperature: a finite number > 0, or None for the uniform policy."""
    if tau is None:
        return None
    try:
        value = float(tau)
    except (TypeError, ValueError):
        raise SettingsError(f"tau must be a positive number, got {tau!r}") from None
    if not (value > 0.0 and math.isfinite(value)):
        raise SettingsError(f"tau must be a finite number > 0, got {tau!r}")
    return value


def check_gradient(kind: str) -> str:
    """Validate a flow kind, ``true`` or ``semi``."""
    if kind not in GRADIENTS:
        raise SettingsError(f"unknown gradient {kind!r}; choose one of: {', '.join(GRADIENTS)}")
    return kind


@dataclass(frozen=True, eq=False)
class LossModel:
    """A single-state game with a mixer and a behaviour policy: L_tau and its derivatives.

    Parameters
    ----------
    payoff : Payoff
        The ground-truth payoff y over joint actions.
    mixer : str or Mixer or torch.nn.Module
        ``"vdn"``, ``"qmix"`` (monotone MLP), ``"nonmono"`` (unconstrained MLP),
        a :class:`~stablepoint.gradflow.mixers.Mixer` or a torch module.
    tau : float or None
        Softmax temperature (> 0); None for the fixed uniform policy (L_0).
    epsilon : float
        Uniform exploration mixed into each agent's softmax, in [0, 1].
    hidden, activation
        MLP width and nonlinearity when ``mixer`` is a name.
    dtype, device
        Torch dtype and device of every tensor the model makes.
    """

    payoff: Payoff
    mixer: Mixer | str = "nonmono"
    tau: float | None = 1.0
    epsilon: float = 0.0
    hidden: int = 8
    activation: str = "elu"
    dtype: torch.dtype = torch.float64
    device: str | torch.device = "cpu"
    _index: torch.Tensor = field(init=False, repr=False)
    _y: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.payoff, Payoff):
            raise SettingsError(f"payoff must be a Payoff, got {type(self.payoff).__name__}")
        mixer = make_mixer(self.mixer, self.payoff.n_agents, hidden=self.hidden, activation=self.activation)
        object.__setattr__(self, "mixer", mixer)
        object.__setattr__(self, "tau", check_tau(self.tau))
        eps = float(self.epsilon)
        if not 0.0 <= eps <= 1.0:
            raise SettingsError(f"epsilon must be in [0, 1], got {self.epsilon!r}")
        object.__setattr__(self, "epsilon", eps)
        offsets = np.concatenate([[0], np.cumsum(self.payoff.shape)[:-1]])
        joint = np.array(list(self.payoff.joint_actions()), dtype=np.int64)
        # Row a of _index holds the positions in q of (Q_1(a_1), ..., Q_N(a_N)).
        index = torch.as_tensor(joint + offsets, device=self.device)
        object.__setattr__(self, "_index", index)
        y = torch.as_tensor(np.array(self.payoff.values.reshape(-1)), dtype=self.dtype, device=self.device)
        object.__setattr__(self, "_y", y)

    # ---- sizes and conversions ---------------------------------------------------------
    @property
    def n_q(self) -> int:
        """Length of q, sum_i |A_i|."""
        return int(sum(self.payoff.shape))

    @property
    def dim(self) -> int:
        """Length of the state x = (q, theta)."""
        return self.n_q + self.mixer.n_params

    def with_tau(self, tau) -> "LossModel":
        """The same game and mixer at another temperature."""
        return LossModel(self.payoff, self.mixer, tau, self.epsilon, self.hidden, self.activation,
                         self.dtype, self.device)

    def to_tensor(self, x) -> torch.Tensor:
        """``x`` as a tensor of this model's dtype and device, checked for length."""
        t = torch.as_tensor(np.asarray(x, dtype=np.float64) if not torch.is_tensor(x) else x,
                            dtype=self.dtype, device=self.device)
        if t.shape != (self.dim,):
            raise SettingsError(f"state must have length {self.dim} (q: {self.n_q}, theta: "
                                f"{self.mixer.n_params}), got shape {tuple(t.shape)}")
        return t

    def split(self, x):
        """``(q, theta)`` views of a state vector."""
        return x[: self.n_q], x[self.n_q :]

    def agent_q(self, x) -> list:
        """Per-agent utility vectors Q_i (list of numpy arrays)."""
        q = np.asarray(x[: self.n_q].detach().cpu() if torch.is_tensor(x) else x[: self.n_q], dtype=float)
        return np.split(q, np.cumsum(self.payoff.shape)[:-1])

    def greedy(self, x) -> tuple[int, ...]:
        """Each agent's greedy action g_i = argmax_a Q_i(a) (0-based)."""
        return tuple(int(np.argmax(qi)) for qi in self.agent_q(x))

    def greedy_gap(self, x) -> float:
        """Smallest gap between an agent's best and second-best utility (H1 needs it > 0)."""
        return float(min(np.sort(qi)[-1] - np.sort(qi)[-2] for qi in self.agent_q(x)))

    # ---- forward quantities ------------------------------------------------------------
    def q_tot(self, x) -> torch.Tensor:
        """Q_tot(a; x) for every joint action a, flat in C order, shape (|U|,)."""
        q, theta = self.split(x)
        return self.mixer(q[self._index], theta)

    def policy(self, x) -> torch.Tensor:
        """mu(a | q) for every joint action, flat in C order (Eq. 13; uniform when tau is None)."""
        n_joint = self._index.shape[0]
        if self.tau is None:
            return torch.full((n_joint,), 1.0 / n_joint, dtype=self.dtype, device=self.device)
        q = x[: self.n_q]
        logs = []
        for start, size in zip(np.concatenate([[0], np.cumsum(self.payoff.shape)[:-1]]), self.payoff.shape):
            logp = torch.log_softmax(q[start : start + size] / self.tau, dim=0)
            if self.epsilon > 0.0:
                logp = torch.log((1.0 - self.epsilon) * logp.exp() + self.epsilon / size)
            logs.append(logp)
        return torch.cat(logs)[self._index].sum(-1).exp()

    def residual(self, x) -> torch.Tensor:
        """r(a) = y(a) - Q_tot(a; x), flat in C order."""
        return self._y - self.q_tot(x)

    def objective(self, x_pol, x_val) -> torch.Tensor:
        """G(x_pol, x_val): the loss with the policy read at ``x_pol`` and Q_tot at ``x_val``."""
        return (self.policy(x_pol) * (self._y - self.q_tot(x_val)) ** 2).sum()

    def loss(self, x) -> torch.Tensor:
        """L_tau(x) (Eq. 14), or L_0 (Eq. 10) when tau is None."""
        return self.objective(x, x)

    def uniform_loss(self, x) -> torch.Tensor:
        """L_0(x): the loss under the fixed uniform policy (Eq. 10)."""
        return ((self._y - self.q_tot(x)) ** 2).mean()

    # ---- fields and their derivatives ---------------------------------------------------
    def field(self, x, kind: str = "true") -> torch.Tensor:
        """The flow's velocity dx/dt: ``-grad L_tau`` (true) or the semi-gradient field."""
        check_gradient(kind)
        if kind == "true":
            return -torch.func.grad(lambda z: self.objective(z, z))(x)
        return -torch.func.grad(self.objective, argnums=1)(x, x)

    def hessian(self, x) -> torch.Tensor:
        """H_tau = grad^2 L_tau(x) (true gradient flow's Jacobian is -H_tau)."""
        return torch.func.hessian(lambda z: self.objective(z, z))(x)

    def field_jacobian(self, x, kind: str = "true") -> torch.Tensor:
        """d(field)/dx; for ``semi`` this includes the policy's re-evaluation (not symmetric)."""
        return torch.func.jacfwd(lambda z: self.field(z, kind))(x)

    def residual_jacobian(self, x) -> torch.Tensor:
        """dQ_tot(a)/dx, shape (|U|, dim): its row space is the normal space of the zero-loss set."""
        return torch.func.jacrev(self.q_tot)(x)

    # ---- numpy adapters for scipy -------------------------------------------------------
    def numpy_field(self, kind: str = "true"):
        """``f(t, x) -> dx/dt`` on numpy arrays, for ``scipy.integrate.solve_ivp``."""
        check_gradient(kind)

        def f(t, x):
            return self.field(torch.as_tensor(x, dtype=self.dtype, device=self.device), kind).cpu().numpy()

        return f

    def numpy_jacobian(self, kind: str = "true"):
        """``jac(t, x)`` on numpy arrays for the implicit solvers (Radau, BDF, LSODA)."""
        check_gradient(kind)

        def jac(t, x):
            xt = torch.as_tensor(x, dtype=self.dtype, device=self.device)
            if kind == "true":
                return (-self.hessian(xt)).cpu().numpy()
            return self.field_jacobian(xt, kind).cpu().numpy()

        return jac
