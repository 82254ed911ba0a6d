"""One learner loop for every value-factorization algorithm, assembled from registries.

An algorithm (:class:`~stablepoint.rl.config.AlgoConfig`) is a choice of

* a **mixer** (:data:`stablepoint.rl.mixers.MIXERS`): how utilities become Q_tot;
* a **target** (:data:`TARGETS`): which joint actions Q_tot is fitted at and to what value;
* a **loss weight** (:data:`LOSS_WEIGHTS`): WQMIX's CW / OW weighting, or none;
* **auxiliary losses** (:data:`AUX_LOSSES`): the joint-action network's TD loss (MRVF
  Eq. 7, WQMIX's Q*, QTRAN's Q_jt), QTRAN's L_opt / L_nopt, RND's predictor loss;
* a number of **rounds** K: MRVF conditions the agents (and the mixer) on the previous
  round's greedy joint action ubar^{k-1} and fits one Q_tot per round.

:meth:`Learner.update` is the same code for all of them and never looks at the
algorithm's name.  The pieces (MRVF in brackets):

====================  =========================================================================
``td``                recorded actions; y = r + gamma Q_tot^-(s', ubar') (TD(lambda) optional)
``sarsa_lambda``      recorded actions; y from Q_tot^-(s', a') at the next *recorded* action,
                      TD(lambda) (Beyond Monotonicity Eq. 29-30)
``central``           recorded actions; y = r + gamma Q*^-(s', ubar') from the joint network (WQMIX)
``joint_value``       [u^k ~ centralized eps-greedy around round k's greedy ubar^k (Eq. 8);
                      y = Q^_jt(u^k) in round 1 (Eq. 6), max(Q^_jt(u^k) - Q^_jt(ubar^{k-1}), 0)
                      in rounds k > 1 (Eq. 5)]
``cw`` / ``ow``       w = 1 if y > Q*(s, ubar) or u = ubar, else alpha / w = 1 if Q_tot < y, else alpha
``joint_td``          Q^_jt(s, u) -> r + gamma Q^_jt^-(s', ubar') at recorded u, ubar' the greedy
                      *final* action (with early termination) [Eq. 7]
``qtran``             (sum_i Q_i(ubar) - Q_jt(ubar) + V)^2 + min(sum_i Q_i(u) - Q_jt(u) + V, 0)^2
``rnd``               predictor regression; the bonus beta * r_int(s') is added to the reward
====================  =========================================================================

Early termination (MRVF Sec. 4.1) is :func:`greedy_final`: round k's greedy action is
accepted only while Q^_jt strictly improves on round k-1's; the controller acts with it
and the ``joint_td`` target bootstraps from it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import torch
from torch import nn

from stablepoint.rl.agents import RNNAgent, agent_inputs, cat_features, joint_onehot
from stablepoint.rl.config import AlgoConfig
from stablepoint.rl.envs.base import EnvInfo
from stablepoint.rl.mixers import JointQ, MixContext, make_mixer
from stablepoint.rl.na2q import na2q_aux
from stablepoint.rl.streams import stream_keys, uniform

#: stream tag of the learner's own random numbers (see stablepoint.rl.streams)
LEARNER_STREAM = 1

__all__ = [
    "MASKED_Q",
    "Learner",
    "Context",
    "Fitted",
    "Rounds",
    "TARGETS",
    "LOSS_WEIGHTS",
    "AUX_LOSSES",
    "td_lambda_targets",
    "greedy_final",
    "masked_argmax",
    "make_optimizer",
    "increment_target",
    "RND",
]

#: Utility given to unavailable actions before an argmax or max.
MASKED_Q = float("-inf")


def masked_argmax(q: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Argmax over the last axis among available actions (ties: lowest index)."""
    return q.masked_fill(~avail, MASKED_Q).argmax(dim=-1)


def masked_max(q: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    return q.masked_fill(~avail, MASKED_Q).max(dim=-1).values


def gather_actions(q: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """``q (..., n, A)``, ``actions (..., n)`` -> the utilities of the actions ``(..., n)``.

    The leading axes broadcast: one row of utilities per population member serves all of its
    sampled joint actions.
    """
    lead = torch.broadcast_shapes(q.shape[:-1], actions.shape)
    index = actions.long().expand(lead).unsqueeze(-1)
    return q.expand(*lead, q.shape[-1]).gather(-1, index).squeeze(-1)


def increment_target(q_jt_u: torch.Tensor, q_jt_prev: torch.Tensor) -> torch.Tensor:
    """MRVF's action-value increment max(Q^_jt(u^k) - Q^_jt(ubar^{k-1}), 0) (Eq. 5).

    >>> increment_target(torch.tensor([8.0, 3.0, 5.0]), torch.tensor(5.0)).tolist()
    [3.0, 0.0, 0.0]
    """
    return torch.clamp(q_jt_u - q_jt_prev, min=0.0)


def td_lambda_targets(rewards, terminated, mask, next_values, gamma: float, lam: float) -> torch.Tensor:
    """TD(lambda) returns over padded episodes, computed backwards in time.

    ``y_t = r_t + gamma (1 - term_t) [(1 - lam) V_{t+1} + lam y_{t+1}]``, where ``y_{t+1}`` is
    replaced by ``V_{t+1}`` after an episode's last filled step; ``lam = 0`` is the one-step target.

    Parameters
    ----------
    rewards, terminated, mask, next_values : Tensor, shape (..., T)
        Step t's reward, termination flag, whether step t exists, and the value of the state
        after step t; the leading axes broadcast.

    Examples
    --------
    >>> r = torch.tensor([[1.0, 1.0]]); z = torch.zeros(1, 2); m = torch.ones(1, 2)
    >>> td_lambda_targets(r, z, m, torch.tensor([[10.0, 10.0]]), 0.5, 0.0).tolist()
    [[6.0, 6.0]]
    >>> td_lambda_targets(r, z, m, torch.tensor([[10.0, 10.0]]), 0.5, 1.0).tolist()
    [[4.0, 6.0]]
    """
    terminated = terminated.to(rewards.dtype)
    mask = mask.to(rewards.dtype)
    shape = torch.broadcast_shapes(rewards.shape, terminated.shape, mask.shape, next_values.shape)
    T = shape[-1]
    out = rewards.new_zeros(shape)
    later = rewards.new_zeros(shape[:-1])
    for t in reversed(range(T)):
        has_next = mask[..., t + 1] if t + 1 < T else torch.zeros_like(later)
        boot = next_values[..., t] + has_next * lam * (later - next_values[..., t])
        out[..., t] = rewards[..., t] + gamma * (1.0 - terminated[..., t]) * boot
        later = out[..., t]
    return out


class RND(nn.Module):
    """Random network distillation: a frozen random embedding of the state and a predictor."""

    def __init__(self, state_dim: int, hidden: int = 64):
        super().__init__()
        self.target = nn.Sequential(nn.Linear(state_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.predictor = nn.Sequential(nn.Linear(state_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        for p in self.target.parameters():
            p.requires_grad_(False)

    def error(self, state: torch.Tensor) -> torch.Tensor:
        """Per-state prediction error ``(...,)`` (the intrinsic reward, with gradient)."""
        return ((self.predictor(state) - self.target(state)) ** 2).mean(dim=-1)


@dataclass
class Rounds:
    """Per-round utilities and greedy actions of one forward pass.

    ``qs[k]`` is round k's utilities ``(..., n, A)``, ``greedy[k]`` its greedy joint action
    ``(..., n)``, ``conds[k]`` the condition vector it was computed from (None for K = 1).
    """

    qs: list
    greedy: list
    conds: list


def first_condition(lead_shape, n_agents, n_actions, device) -> torch.Tensor:
    """Round 1's condition: the "no previous action" flag and an all-zero joint action."""
    c = torch.zeros(*lead_shape, 1 + n_agents * n_actions, device=device)
    c[..., 0] = 1.0
    return c


def next_condition(greedy: torch.Tensor, n_actions: int) -> torch.Tensor:
    """Round k+1's condition from round k's greedy joint action ``(..., n)``."""
    oh = joint_onehot(greedy, n_actions)
    return torch.cat([torch.zeros_like(oh[..., :1]), oh], dim=-1)


def run_rounds(agent: RNNAgent, hidden: torch.Tensor, avail: torch.Tensor, rounds: int) -> Rounds:
    """Utilities and greedy actions of every round from GRU states ``(..., n, H)``.

    Round k's head sees ubar^{k-1} (MRVF Sec. 4.2); greedy actions are gradient-free.
    """
    n, A = avail.shape[-2], avail.shape[-1]
    lead = hidden.shape[:-2]
    if rounds == 1 and not agent.cond_dim:
        q = agent.q_values(hidden)
        return Rounds([q], [masked_argmax(q.detach(), avail)], [None])
    out = Rounds([], [], [])
    cond = first_condition(lead, n, A, hidden.device)
    for _ in range(rounds):
        # one condition row per joint sample, broadcast over the agents inside the head (its
        # condition layer runs once per sample, not once per agent)
        q = agent.q_values(hidden, cond.unsqueeze(-2))
        g = masked_argmax(q.detach(), avail)
        out.qs.append(q)
        out.greedy.append(g)
        out.conds.append(cond)
        cond = next_condition(g, A)
    return out


def greedy_final(rounds: Rounds, q_jt: Callable[[torch.Tensor], torch.Tensor] | None):
    """The greedy final action with MRVF's early termination, and the round that produced it.

    Round 1's greedy action is taken; round k > 1 replaces it only while every earlier round
    was accepted and ``Q^_jt(ubar^k) > Q^_jt(ubar^{k-1})`` (a tie or a drop terminates).

    Parameters
    ----------
    rounds : Rounds
    q_jt : callable or None
        ``actions (..., n) -> Q^_jt (...)``; ignored when there is a single round.

    Returns
    -------
    final : Tensor of int, shape (..., n)
    which : Tensor of int, shape (...,)
        0-based round of the final action.
    """
    final = rounds.greedy[0]
    which = torch.zeros(final.shape[:-1], dtype=torch.long, device=final.device)
    if len(rounds.greedy) == 1:
        return final, which
    prev_val = q_jt(rounds.greedy[0])
    going = torch.ones_like(which, dtype=torch.bool)
    for k in range(1, len(rounds.greedy)):
        val = q_jt(rounds.greedy[k])
        going = going & (val > prev_val)
        final = torch.where(going.unsqueeze(-1), rounds.greedy[k], final)
        which = torch.where(going, torch.full_like(which, k), which)
        prev_val = val
    return final, which


# ----------------------------------------------------------------------------------------
# The batch as the loss functions see it
# ----------------------------------------------------------------------------------------


class Context:
    """Tensors and forward passes shared by the target, weight and auxiliary functions.

    Time axis: ``T + 1`` stored steps; step tensors (``actions``, ``reward``, ``mask``) are cut
    to the first ``T``; ``*_next`` quantities are at ``1 .. T``.

    Leading axes: ``(B,)`` episodes for a single learner, ``(P, B)`` members and episodes for a
    population (:class:`stablepoint.rl.population.PopulationLearner`).  ``obs``, ``state`` and
    ``avail_actions`` may keep size-1 leading axes where they are shared (the constant state of
    a one-step game); ``reward``, ``actions``, ``terminated`` and ``filled`` have the full
    leading shape.  Reductions go through :meth:`mean`: a scalar for one learner, one value per
    member for a population.
    """

    def __init__(self, learner: "Learner", batch: dict, epsilon: float):
        self.learner = learner
        self.epsilon = float(epsilon)
        self.n_agents = learner.info.n_agents
        self.n_actions = learner.info.n_actions
        obs, state, avail = batch["obs"], batch["state"], batch["avail_actions"]
        self.t_axis = batch["reward"].dim() - 1
        T = batch["reward"].shape[-1] - 1
        self.T = T
        self.state_all = state
        self.avail_all = avail
        self.state, self.state_next = self.now(state), self.later(state)
        self.avail, self.avail_next = self.now(avail), self.later(avail)
        self.actions = self.now(batch["actions"])
        self.actions_next = self.later(batch["actions"])
        self.filled_next = self.later(batch["filled"])
        self.reward = self.now(batch["reward"])
        self.terminated = self.now(batch["terminated"]).to(torch.float32)
        self.mask = self.now(batch["filled"]).to(torch.float32)
        self._sum_axes = tuple(range(self.t_axis - 1, self.t_axis + 1))
        self.n_valid = self.mask.sum(dim=self._sum_axes).clamp(min=1.0)

        # A filled step that did not terminate bootstraps from the next state.  When none does
        # (every episode of a one-step game), no next-step value is read: the online agents are
        # unrolled over the steps taken only and the target networks are never run.
        self.bootstraps = bool((self.mask * (1.0 - self.terminated)).any())
        self._inputs = learner.inputs(batch)
        seen = self._inputs if self.bootstraps else self._inputs.narrow(-3, 0, T)
        self.hidden = learner.unroll(learner.agent, seen, fused=learner.fused_unroll)
        self.rounds = run_rounds(learner.agent, self.hidden, avail if self.bootstraps else self.avail, learner.algo.rounds)
        if learner.rnd is not None:
            with torch.no_grad():
                self.reward = self.reward + learner.algo.rnd_beta * learner.rnd.error(self.state_next)

    @cached_property
    def hidden_target(self) -> torch.Tensor:
        """The target agents' GRU states over all ``T + 1`` steps (computed when first read)."""
        with torch.no_grad():
            return self.learner.unroll(self.learner.target_agent, self._inputs, fused=self.learner.fused_unroll)

    @cached_property
    def rounds_target(self) -> Rounds:
        """The target agents' rounds (computed when first read)."""
        with torch.no_grad():
            return run_rounds(self.learner.target_agent, self.hidden_target, self.avail_all, self.learner.algo.rounds)

    # -- pieces --------------------------------------------------------------------------

    def now(self, x: torch.Tensor) -> torch.Tensor:
        """Steps ``0 .. T-1`` of a per-step tensor (the steps taken)."""
        return x.narrow(self.t_axis, 0, self.T)

    def later(self, x: torch.Tensor) -> torch.Tensor:
        """Steps ``1 .. T`` of a per-step tensor (what follows each step taken)."""
        return x.narrow(self.t_axis, 1, self.T)

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of ``x (..., T)`` over the filled steps: a scalar, or ``(P,)`` for a population."""
        return (self.mask * x).sum(dim=self._sum_axes) / self.n_valid

    def mixer_state(self, state, cond):
        return state if cond is None else cat_features(state, cond)

    def q_tot(self, k: int, actions: torch.Tensor, *, target: bool = False, next_step: bool = False):
        """Q_tot of round k at ``actions (B, T, n)`` (online or target networks, now or next)."""
        rounds = self.rounds_target if target else self.rounds
        mixer = self.learner.target_mixer if target else self.learner.mixer
        steps = self.later if next_step else self.now
        q = steps(rounds.qs[k])
        cond = rounds.conds[k]
        state = self.state_next if next_step else self.state
        avail = self.avail_next if next_step else self.avail
        # the greedy action of the networks being evaluated decides ResQ's mask and QPLEX's V
        greedy = steps(rounds.greedy[k])
        chosen = gather_actions(q, actions)
        ctx = MixContext.for_actions(actions, greedy, self.n_actions, max_qs=masked_max(q, avail))
        return mixer(chosen, self.mixer_state(state, None if cond is None else steps(cond)), ctx)

    def greedy_next(self, k: int = 0) -> torch.Tensor:
        """Round k's next-step greedy action, from the online nets (double Q) or the target nets."""
        rounds = self.rounds if self.learner.algo.double_q else self.rounds_target
        return self.later(rounds.greedy[k])

    def final_next(self) -> torch.Tensor:
        """The greedy final action at the next step (early termination with the online Q^_jt)."""
        rounds = self.rounds if self.learner.algo.double_q else self.rounds_target
        sliced = Rounds([self.later(q) for q in rounds.qs], [self.later(g) for g in rounds.greedy], rounds.conds)
        with torch.no_grad():
            final, _ = greedy_final(sliced, lambda a: self.learner.joint(self.state_next, a))
        return final

    def returns(self, next_values: Callable[[], torch.Tensor]) -> torch.Tensor:
        """TD(lambda) returns of the steps taken; ``next_values()`` gives the next states' values.

        It is called only when some step bootstraps; otherwise every filled step's return is its
        reward, which is what :func:`td_lambda_targets` gives for terminal steps (padding
        steps, masked out of every loss, are left at their zero reward).
        """
        if not self.bootstraps:
            return self.reward.clone()
        a = self.learner.algo
        return td_lambda_targets(self.reward, self.terminated, self.mask, next_values(), self.learner.gamma, a.td_lambda)

    def sample_centralized(self, greedy: torch.Tensor) -> torch.Tensor:
        """Joint actions ~ centralized epsilon-greedy around ``greedy`` (MRVF Eq. 8), one per step.

        ``greedy`` may be shared along leading axes (one greedy action per member); the sample
        has the full leading shape of the steps.
        """
        steps = self.reward.shape
        u = self.learner.rand((*steps, self.n_agents, self.n_actions))
        random_joint = (u * self.avail).argmax(dim=-1)  # uniform over each agent's available actions
        eps = self.learner.algo.sample_epsilon
        eps = self.epsilon if eps < 0 else eps
        explore = self.learner.rand(steps) < eps
        return torch.where(explore.unsqueeze(-1), random_joint, greedy)


@dataclass
class Fitted:
    """What a target function hands to the loss: where Q_tot is fitted and to what."""

    actions: torch.Tensor  # (B, T, n)
    target: torch.Tensor  # (B, T), no gradient


# ----------------------------------------------------------------------------------------
# Registries: targets, loss weights, auxiliary losses
# ----------------------------------------------------------------------------------------


def _target_td(ctx: Context, k: int) -> Fitted:
    with torch.no_grad():
        return Fitted(ctx.actions, ctx.returns(lambda: ctx.q_tot(k, ctx.greedy_next(k), target=True, next_step=True)))


def _target_sarsa(ctx: Context, k: int) -> Fitted:
    def nxt():
        # after a time-limit cut no next action was taken: fall back to the greedy one
        a_next = torch.where(ctx.filled_next.unsqueeze(-1), ctx.actions_next, ctx.greedy_next(k))
        return ctx.q_tot(k, a_next, target=True, next_step=True)

    with torch.no_grad():
        return Fitted(ctx.actions, ctx.returns(nxt))


def _target_central(ctx: Context, k: int) -> Fitted:
    with torch.no_grad():
        return Fitted(ctx.actions, ctx.returns(lambda: ctx.learner.target_joint(ctx.state_next, ctx.greedy_next(k))))


def _target_joint_value(ctx: Context, k: int) -> Fitted:
    with torch.no_grad():
        actions = ctx.sample_centralized(ctx.now(ctx.rounds.greedy[k]))
        value = ctx.learner.joint(ctx.state, actions)
        if k > 0 and ctx.learner.algo.increment:
            value = increment_target(value, ctx.learner.joint(ctx.state, ctx.now(ctx.rounds.greedy[k - 1])))
        return Fitted(actions, value)


#: target name -> ``(ctx, round) -> Fitted``.
TARGETS: dict[str, Callable[[Context, int], Fitted]] = {
    "td": _target_td,
    "sarsa_lambda": _target_sarsa,
    "central": _target_central,
    "joint_value": _target_joint_value,
}


def _weight_uniform(ctx, k, fitted, q_tot):
    return torch.ones_like(q_tot)


def _weight_cw(ctx, k, fitted, q_tot):
    # Centrally-weighted QMIX: full weight where the target beats Q*(s, ubar) or u = ubar.
    with torch.no_grad():
        greedy = ctx.now(ctx.rounds.greedy[k])
        # the WQMIX code scores ubar with the target Q*; the online one is the paper's reading
        joint = ctx.learner.target_joint if ctx.learner.algo.cw_target else ctx.learner.joint
        best = joint(ctx.state, greedy)
        keep = (fitted.target > best) | (fitted.actions == greedy).all(dim=-1)
        return torch.where(keep, torch.ones_like(q_tot), torch.full_like(q_tot, ctx.learner.algo.alpha))


def _weight_ow(ctx, k, fitted, q_tot):
    # Optimistically-weighted QMIX: full weight where Q_tot underestimates the target.
    with torch.no_grad():
        keep = q_tot < fitted.target
        return torch.where(keep, torch.ones_like(q_tot), torch.full_like(q_tot, ctx.learner.algo.alpha))


#: loss-weight name -> ``(ctx, round, fitted, q_tot) -> weights (B, T)``.
LOSS_WEIGHTS: dict[str, Callable] = {"uniform": _weight_uniform, "cw": _weight_cw, "ow": _weight_ow}


def _aux_joint_td(ctx: Context) -> dict:
    learner = ctx.learner
    with torch.no_grad():
        y = ctx.returns(lambda: learner.target_joint(ctx.state_next, ctx.final_next()))
    q = learner.joint(ctx.state, ctx.actions)
    return {"joint_td": ctx.mean((q - y) ** 2)}


def _aux_qtran(ctx: Context) -> dict:
    learner, a = ctx.learner, ctx.learner.algo
    q = ctx.now(ctx.rounds.qs[0])
    greedy = ctx.now(ctx.rounds.greedy[0])
    v = learner.mixer.state_value(ctx.state)
    with torch.no_grad():
        jt_greedy = learner.joint(ctx.state, greedy)
        jt_taken = learner.joint(ctx.state, ctx.actions)
    opt = gather_actions(q, greedy).sum(-1) - jt_greedy + v
    nopt = torch.clamp(gather_actions(q, ctx.actions).sum(-1) - jt_taken + v, max=0.0)
    return {
        "qtran_opt": a.qtran_lambda_opt * ctx.mean(opt**2),
        "qtran_nopt": a.qtran_lambda_nopt * ctx.mean(nopt**2),
    }


def _aux_rnd(ctx: Context) -> dict:
    err = ctx.learner.rnd.error(ctx.state_next)
    return {"rnd": ctx.mean(err)}


#: auxiliary-loss name -> ``ctx -> {loss name: scalar tensor}``.
AUX_LOSSES: dict[str, Callable[[Context], dict]] = {
    "joint_td": _aux_joint_td,
    "qtran": _aux_qtran,
    "rnd": _aux_rnd,
    "na2q_vae": na2q_aux,
}


# ----------------------------------------------------------------------------------------
# The learner
# ----------------------------------------------------------------------------------------


def make_optimizer(algo: AlgoConfig, params, **options) -> torch.optim.Optimizer:
    """The algorithm's optimizer over ``params``: Adam, or RMSprop with PyMARL's alpha and eps.

    Both act elementwise, so one optimizer over stacked population parameters is P
    independent optimizers (``options`` such as ``fused=True`` only change the kernel).
    """
    if algo.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=algo.lr, alpha=algo.optim_alpha, eps=algo.optim_eps, **options)
    return torch.optim.Adam(params, lr=algo.lr, **options)


class Learner:
    """Networks, their target copies and the optimizer, with one :meth:`update` for all algorithms.

    Parameters
    ----------
    algo : AlgoConfig
    info : EnvInfo
        Sizes of the environment.
    gamma : float
        Discount.
    device : str or torch.device
    seed : int
        Keys the random stream of MRVF's per-round action sampling.

    Examples
    --------
    >>> from stablepoint.rl.config import load_algo
    >>> learner = Learner(load_algo("mrvf"), EnvInfo(2, 3, 2, 1, 1), gamma=0.99)
    >>> learner.agent.cond_dim, learner.joint is not None
    (7, True)
    """

    def __init__(self, algo: AlgoConfig, info: EnvInfo, gamma: float = 0.99, device="cpu", seed: int = 0):
        self.algo, self.info, self.gamma = algo, info, float(gamma)
        self.device = torch.device(device)
        n, A = info.n_agents, info.n_actions
        cond_dim = 1 + n * A if algo.rounds > 1 else 0
        input_dim = info.obs_dim + (A if algo.obs_last_action else 0) + (n if algo.obs_agent_id else 0)
        self.agent = RNNAgent(input_dim, A, algo.agent_hidden, cond_dim).to(self.device)
        self.mixer = make_mixer(algo.mixer, n, A, info.state_dim + cond_dim, algo.mixing_embed, algo.hypernet_embed).to(
            self.device
        )
        self.joint = JointQ(n, A, info.state_dim, algo.joint_hidden).to(self.device) if algo.joint_net else None
        self.rnd = RND(info.state_dim).to(self.device) if "rnd" in algo.aux_losses else None
        self.target_agent = copy.deepcopy(self.agent)
        self.target_mixer = copy.deepcopy(self.mixer)
        self.target_joint = copy.deepcopy(self.joint)
        for net in (self.target_agent, self.target_mixer, self.target_joint):
            if net is not None:
                net.requires_grad_(False)
        self.params = [p for m in self.modules() for p in m.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(algo, self.params)
        # MRVF's per-round sampling draws from a counter-based stream, so a population member
        # (stablepoint.rl.population) draws exactly the numbers this learner would
        self.stream_key = stream_keys([int(seed)], LEARNER_STREAM, device=self.device)
        self.draws = 0
        self._bind_components()
        self.n_updates = 0

    def _bind_components(self) -> None:
        self.target_fn = TARGETS[self.algo.target]
        self.weight_fn = LOSS_WEIGHTS[self.algo.loss_weight]
        self.aux_fns = [AUX_LOSSES[name] for name in self.algo.aux_losses]

    def modules(self) -> list[nn.Module]:
        """The trained networks (agent, mixer, and the joint / RND networks when present)."""
        return [m for m in (self.agent, self.mixer, self.joint, self.rnd) if m is not None]

    #: network attributes, in checkpoint order (those that are None are skipped)
    NETWORKS = ("agent", "mixer", "joint", "rnd", "target_agent", "target_mixer", "target_joint")

    def rand(self, shape) -> torch.Tensor:
        """Uniform [0, 1) numbers of shape ``shape`` from the learner's own stream (MRVF's pi_k)."""
        u = uniform(self.stream_key, self.draws, shape)[0]
        self.draws += 1
        return u

    def randn(self, shape) -> torch.Tensor:
        """Standard normal numbers from the learner's stream (Box-Muller on two uniform draws)."""
        u1 = self.rand(shape) + 2.0**-25  # in (0, 1): the log stays finite
        u2 = self.rand(shape)
        return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * torch.pi * u2)

    # -- shared forward pieces -----------------------------------------------------------

    def inputs(self, batch: dict) -> torch.Tensor:
        """Agent inputs ``(B, T+1, n, input_dim)`` for a batch of episodes."""
        last = None
        if self.algo.obs_last_action:
            acts = batch["actions"]
            last = torch.cat([torch.full_like(acts[:, :1], -1), acts[:, :-1]], dim=1)
        return agent_inputs(batch["obs"], last, self.info.n_actions, self.algo.obs_agent_id)

    #: unroll the agents with torch's fused GRU where the cell allows it (False: step by step,
    #: the reference path; a population's stacked cells always step)
    fused_unroll: bool = True

    @staticmethod
    def unroll(agent: RNNAgent, inputs: torch.Tensor, fused: bool = True) -> torch.Tensor:
        """GRU states ``(..., T+1, n, H)`` for inputs ``(..., T+1, n, D)`` (see :meth:`RNNAgent.unroll`)."""
        return agent.unroll(inputs, fused=fused)

    # -- the loop body -------------------------------------------------------------------

    def update(self, batch: dict, epsilon: float = 0.05) -> dict[str, float]:
        """One gradient step on a batch of episodes (torch tensors on the learner's device).

        Returns namespaced scalars (``losses/...``, ``train/...``) for logging.
        """
        ctx = Context(self, batch, epsilon)
        losses: dict[str, torch.Tensor] = {}
        stats: dict[str, torch.Tensor] = {}
        if self.algo.tot_loss:
            for k in range(self.algo.rounds):
                fitted = self.target_fn(ctx, k)
                q_tot = ctx.q_tot(k, fitted.actions)
                w = self.weight_fn(ctx, k, fitted, q_tot)
                err = q_tot - fitted.target
                losses[f"tot_r{k + 1}" if self.algo.rounds > 1 else "tot"] = ctx.mean(w * err**2)
                stats[f"train/q_tot_r{k + 1}"] = ctx.mean(q_tot.detach())
                stats[f"train/target_r{k + 1}"] = ctx.mean(fitted.target)
        for fn in self.aux_fns:
            losses.update(fn(ctx))
        loss = sum(losses.values())
        self.optimizer.zero_grad(set_to_none=True)
        # a population's losses are one per member over disjoint parameters: their sum has each
        # member's own gradient
        loss.sum().backward()
        grad_norm = self.clip_gradients()
        self.optimizer.step()
        self.n_updates += 1
        stats.update({f"losses/{name}": v.detach() for name, v in losses.items()})
        stats["losses/total"] = loss.detach()
        stats["train/grad_norm"] = grad_norm
        return self.report(stats)

    def clip_gradients(self) -> torch.Tensor:
        """Clip the global gradient norm to ``grad_norm_clip``; return the norm before clipping."""
        return torch.nn.utils.clip_grad_norm_(self.params, self.algo.grad_norm_clip)

    def report(self, stats: dict[str, torch.Tensor]) -> dict[str, float]:
        """Update statistics as plain floats (a population keeps one tensor entry per member)."""
        return {k: float(v) for k, v in stats.items()}

    def update_targets(self) -> None:
        """Hard copy of the online networks into the target networks."""
        self.target_agent.load_state_dict(self.agent.state_dict())
        self.target_mixer.load_state_dict(self.mixer.state_dict())
        if self.joint is not None:
            self.target_joint.load_state_dict(self.joint.state_dict())

    # -- checkpoints ---------------------------------------------------------------------

    def state_dict(self) -> dict:
        nets = {key: getattr(self, key) for key in self.NETWORKS}
        out = {k: v.state_dict() for k, v in nets.items() if v is not None}
        out["optimizer"] = self.optimizer.state_dict()
        out["draws"] = self.draws
        out["n_updates"] = self.n_updates
        return out

    def load_state_dict(self, state: dict) -> None:
        for key in self.NETWORKS:
            net = getattr(self, key)
            if net is not None:
                net.load_state_dict(state[key])
        self.optimizer.load_state_dict(state["optimizer"])
        self.draws = int(state.get("draws", 0))
        self.n_updates = int(state["n_updates"])
