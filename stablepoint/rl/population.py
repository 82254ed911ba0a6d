"""Population training on one-step games: P independent learners of one algorithm in one process.

On a one-step matrix game the networks are tiny and a single run is almost all per-operation
overhead, so P runs (seeds x games of one shape) share every operation instead:

* :class:`PopulationLearner` stacks the members' networks along a leading member axis
  (:mod:`stablepoint.rl.stacked`) and runs the single learner's own
  :meth:`~stablepoint.rl.learner.Learner.update`: the same targets, loss weights, auxiliary
  losses and mixers, with one loss per member.  Gradient clipping is per member; Adam and
  RMSprop act elementwise, so one optimizer over the stacked parameters is P optimizers.
* The **constant-state shortcut**: a one-step game shows every sample the same observation
  and state, so the batch keeps them as one row shared by all members and samples
  (:func:`one_step_batch`); the agents and hypernetworks then run once per member, not once
  per sample.  The result is the same computation (tested against the single learner).
* Every member has its own random streams (acting, replay sampling, MRVF's pi_k; see
  :mod:`stablepoint.rl.streams`), so a member's run does not depend on the other members.

:func:`train_population` is the training loop of :func:`stablepoint.rl.train.train` for P
configs at once, writing each member's run directory exactly as a single run does
(``config.yaml``, ``metrics.jsonl``/``.csv``, TensorBoard, ``initial.json``, ``final.json``,
``checkpoints/last.pt``); a killed population resumes from its members' checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from stablepoint.errors import SettingsError
from stablepoint.rl.agents import agent_inputs
from stablepoint.rl.config import TrainConfig, config_to_dict, load_config, save_config
from stablepoint.rl.controller import LinearSchedule
from stablepoint.rl.envs import make_env
from stablepoint.rl.learner import Learner, greedy_final, make_optimizer, run_rounds
from stablepoint.rl.stacked import load_member_state_dicts, member_state_dict, stack_modules
from stablepoint.rl.streams import stream_keys, uniform

__all__ = [
    "PopulationLearner",
    "OneStepBuffer",
    "one_step_batch",
    "population_greedy",
    "train_population",
    "can_vectorize",
    "population_key",
]

#: stream tags of the trainer's random numbers (the learner's own is LEARNER_STREAM = 1)
ACT_STREAM, SAMPLE_STREAM = 2, 3


class PopulationLearner(Learner):
    """P learners of one algorithm with stacked networks and one :meth:`update` for all.

    Parameters
    ----------
    learners : list of Learner
        The members, built (and possibly trained or restored) as single learners; their
        networks, optimizer states, stream counters and update counts are copied in.
    fused : bool, optional
        Adam only: torch's fused kernel (default True; the single learner's is the plain one,
        equal to rounding).

    Notes
    -----
    :meth:`update` returns one ``(P,)`` tensor per statistic; :meth:`member_state_dict` gives
    member p in :meth:`Learner.state_dict`'s layout.
    """

    def __init__(self, learners: Sequence[Learner], fused: bool | None = None):
        if not learners:
            raise SettingsError("a population needs at least one member")
        first = learners[0]
        if any(m.algo != first.algo or m.info != first.info or m.gamma != first.gamma for m in learners):
            raise SettingsError("population members must share the algorithm, environment sizes and discount")
        if len({m.n_updates for m in learners}) != 1 or len({m.draws for m in learners}) != 1:
            raise SettingsError("population members must be at the same update (resume them together)")
        self.algo, self.info, self.gamma, self.device = first.algo, first.info, first.gamma, first.device
        self.n_members = len(learners)
        for key in self.NETWORKS:
            nets = [getattr(m, key) for m in learners]
            setattr(self, key, None if nets[0] is None else stack_modules(nets))
        self.params = [p for m in self.modules() for p in m.parameters() if p.requires_grad]
        self.optimizer = _population_optimizer(self.algo, self.params, fused)
        self._load_optimizers([m.optimizer.state_dict() for m in learners])
        self.stream_key = torch.cat([m.stream_key for m in learners])
        self.draws = first.draws
        self.n_updates = first.n_updates
        self._bind_components()

    @classmethod
    def create(cls, algo, info, gamma, device, seeds: Sequence[int], **kwargs) -> "PopulationLearner":
        """Members initialised exactly as :func:`stablepoint.rl.train.train` initialises a run of each seed."""
        members = []
        for seed in seeds:
            torch.manual_seed(int(seed))
            members.append(Learner(algo, info, gamma, device, seed=int(seed)))
        return cls(members, **kwargs)

    # -- what differs from a single learner ----------------------------------------------

    def rand(self, shape) -> torch.Tensor:
        """Uniform numbers ``(P, *shape[1:])``: member p's are those a single learner would draw."""
        u = uniform(self.stream_key, self.draws, tuple(shape)[1:])
        self.draws += 1
        return u

    def clip_gradients(self) -> torch.Tensor:
        """Clip each member's gradient norm to ``grad_norm_clip``; return the norms ``(P,)``."""
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads]), dim=0
        )
        # torch.nn.utils.clip_grad_norm_'s rule, member by member
        coef = (self.algo.grad_norm_clip / (norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))
        return norm

    def report(self, stats: dict) -> dict:
        """Update statistics as ``(P,)`` tensors (no host round trip per update)."""
        return {k: v.detach() for k, v in stats.items()}

    # -- members in the single learner's layout ------------------------------------------

    def member_state_dict(self, p: int) -> dict:
        """Member ``p`` as :meth:`Learner.state_dict` writes it (so its run directory is a run's)."""
        out = {key: member_state_dict(getattr(self, key), p) for key in self.NETWORKS if getattr(self, key) is not None}
        opt = self.optimizer.state_dict()
        out["optimizer"] = {
            "state": {i: {k: self._member(v, p, self._flipped[i]) for k, v in st.items()} for i, st in opt["state"].items()},
            "param_groups": [{**g, "fused": None, "foreach": None} for g in opt["param_groups"]],
        }
        out["draws"] = self.draws
        out["n_updates"] = self.n_updates
        return out

    def load_member_state_dicts(self, states: Sequence[dict]) -> None:
        """Restore every member from :meth:`member_state_dict` / :meth:`Learner.state_dict` output."""
        if len(states) != self.n_members:
            raise SettingsError(f"expected {self.n_members} member states, got {len(states)}")
        for key in self.NETWORKS:
            net = getattr(self, key)
            if net is not None:
                load_member_state_dicts(net, [s[key] for s in states])
        self._load_optimizers([s["optimizer"] for s in states])
        self.draws = int(states[0].get("draws", 0))
        self.n_updates = int(states[0]["n_updates"])

    def member(self, p: int, seed: int = 0) -> Learner:
        """Member ``p`` as a stand-alone :class:`Learner` (for its tables and checkpoints).

        ``seed`` only seeds the throw-away initialisation; parameters, optimizer state and
        random stream are the member's.
        """
        single = Learner(self.algo, self.info, self.gamma, self.device, seed=seed)
        single.load_state_dict(self.member_state_dict(p))
        single.stream_key = self.stream_key[p : p + 1].clone()  # the member's own stream
        return single

    @property
    def _flipped(self) -> list[bool]:
        """Per optimizer parameter: held as (P, in, out), saved as (P, out, in) (stacked.py)."""
        return [getattr(p, "member_transposed", False) for p in self.params]

    def _member(self, v, p, flipped):
        if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == self.n_members:
            return (v[p].t() if flipped else v[p]).clone()
        return v.clone() if torch.is_tensor(v) else v

    def _load_optimizers(self, states: Sequence[dict]) -> None:
        if not states[0]["state"]:
            return
        stacked = {}
        flipped = self._flipped
        for i, st in states[0]["state"].items():
            stacked[i] = {}
            for k, v in st.items():
                if torch.is_tensor(v) and v.dim() > 0:
                    both = torch.stack([s["state"][i][k] for s in states])
                    stacked[i][k] = both.transpose(1, 2).contiguous() if flipped[int(i)] else both
                else:
                    stacked[i][k] = v.clone() if torch.is_tensor(v) else v
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": stacked, "param_groups": groups})


class _InPlaceRMSprop(torch.optim.RMSprop):
    """:class:`torch.optim.RMSprop` (no momentum, not centered) without per-step temporaries.

    The same operations in the same order as torch's single-tensor step, so the same numbers;
    the square root goes into a buffer kept per parameter.  Stacked population parameters are
    large, and allocating (and page-faulting) a fresh one each step costs more than the step.
    """

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102
        if closure is not None:
            raise SettingsError("this optimizer takes no closure")
        for group in self.param_groups:
            if group["momentum"] or group["centered"] or group["weight_decay"] or group["maximize"]:
                raise SettingsError("the in-place RMSprop supports plain RMSprop only")
            alpha, eps, lr = group["alpha"], group["eps"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                buf = self._buffers.get(p)
                if buf is None or buf.shape != p.shape:
                    buf = self._buffers[p] = torch.empty_like(p)
                state["step"] += 1
                state["square_avg"].mul_(alpha).addcmul_(p.grad, p.grad, value=1 - alpha)
                torch.sqrt(state["square_avg"], out=buf)
                p.addcdiv_(p.grad, buf.add_(eps), value=-lr)

    @property
    def _buffers(self) -> dict:
        if not hasattr(self, "_sqrt_buffers"):
            self._sqrt_buffers = {}
        return self._sqrt_buffers


def _population_optimizer(algo, params, fused: bool | None) -> torch.optim.Optimizer:
    """The members' optimizer over stacked parameters: elementwise, so P independent ones.

    Adam uses torch's fused kernel (one pass, no temporaries; default on), RMSprop the
    in-place step above; both keep torch's state-dict layout, so a member's optimizer state
    loads into a single learner's.
    """
    if algo.optimizer == "rmsprop":
        return _InPlaceRMSprop(params, lr=algo.lr, alpha=algo.optim_alpha, eps=algo.optim_eps)
    return make_optimizer(algo, params, fused=True if fused is None else bool(fused))


# ----------------------------------------------------------------------------------------
# One-step games: batches, replay, acting
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OneStepGame:
    """What every member's copy of a one-step game shows (shared) and pays (per member).

    ``obs (n, D)``, ``state (sd,)``, ``avail (n, A)`` are the same for all members; ``values``
    and ``optimal`` are ``(P, prod(shape))`` (flat joint-action index), ``strides`` turns a
    joint action into that index.
    """

    obs: torch.Tensor
    state: torch.Tensor
    avail: torch.Tensor
    values: torch.Tensor
    optimal: torch.Tensor
    strides: torch.Tensor
    shape: tuple

    @classmethod
    def from_envs(cls, envs, device) -> "OneStepGame":
        first = envs[0]
        obs, state, avail = first.obs()[0], first.state()[0], first.avail_actions()[0]
        for env in envs[1:]:
            if env.payoff.shape != first.payoff.shape or not (
                np.array_equal(env.obs()[0], obs) and np.array_equal(env.avail_actions()[0], avail)
            ):
                raise SettingsError("population members must play one-step games of one shape")
        shape = tuple(first.payoff.shape)
        strides = torch.tensor([int(np.prod(shape[i + 1:])) for i in range(len(shape))], device=device)
        values = torch.tensor(np.stack([e._values.ravel() for e in envs]), device=device)
        optimal = torch.tensor(np.stack([e._optimal.ravel() for e in envs]), device=device)
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), device=device)  # noqa: E731
        return cls(as_t(obs), as_t(state), as_t(avail), values, optimal, strides, shape)

    def index(self, actions: torch.Tensor) -> torch.Tensor:
        """Flat joint-action index of ``actions (P, ..., n)`` -> ``(P, M)`` with M the rest flattened."""
        return (actions * self.strides).sum(-1).flatten(1)

    def pay(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Team reward and optimality flag of each member's joint actions ``(P, ..., n)``."""
        idx = self.index(actions)
        lead = actions.shape[:-1]
        return self.values.gather(1, idx).view(lead), self.optimal.gather(1, idx).view(lead)


def one_step_batch(game: OneStepGame, actions: torch.Tensor, reward: torch.Tensor) -> dict:
    """The learner's batch for one-step episodes, with the constant-state shortcut.

    ``actions (P, B, n)`` and ``reward (P, B)`` are the sampled episodes; obs, state and
    available actions are one shared row ``(1, 1, 2, ...)`` (before the step and after it:
    a one-step game shows the same again).  Padding follows :mod:`stablepoint.rl.buffer`.
    """
    P, B, n = actions.shape
    dev = actions.device
    pair = lambda x: x.expand(1, 1, 2, *x.shape)  # noqa: E731
    filled = torch.zeros(P, B, 2, dtype=torch.bool, device=dev)
    filled[..., 0] = True
    acts = torch.zeros(P, B, 2, n, dtype=torch.int64, device=dev)
    acts[:, :, 0] = actions
    rew = torch.zeros(P, B, 2, dtype=torch.float32, device=dev)
    rew[..., 0] = reward
    return {
        "obs": pair(game.obs),
        "state": pair(game.state),
        "avail_actions": pair(game.avail),
        "actions": acts,
        "reward": rew,
        "terminated": filled.clone(),
        "filled": filled,
    }


class OneStepBuffer:
    """Per-member ring buffers of one-step episodes (joint action and reward), in lockstep.

    Sampling draws, per member, ``batch_size`` distinct stored episodes uniformly (as
    :meth:`stablepoint.rl.buffer.EpisodeBuffer.sample`), from the member's own stream.
    """

    def __init__(self, n_members: int, capacity: int, n_agents: int, device):
        self.capacity = int(capacity)
        self.actions = torch.zeros(n_members, self.capacity, n_agents, dtype=torch.int64, device=device)
        self.reward = torch.zeros(n_members, self.capacity, dtype=torch.float32, device=device)
        self.next = 0
        self.size = 0

    def insert(self, actions: torch.Tensor, reward: torch.Tensor) -> None:
        """Store ``actions (P, E, n)`` and ``reward (P, E)`` (the oldest are overwritten first)."""
        E = actions.shape[1]
        if E > self.capacity:
            actions, reward, E = actions[:, -self.capacity:], reward[:, -self.capacity:], self.capacity
        slots = (self.next + torch.arange(E, device=actions.device)) % self.capacity
        self.actions[:, slots] = actions
        self.reward[:, slots] = reward
        self.next = (self.next + E) % self.capacity
        self.size = min(self.size + E, self.capacity)

    def sample(self, batch_size: int, keys: torch.Tensor, counter: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(actions (P, B, n), reward (P, B))`` of B distinct episodes per member (draw ``counter``)."""
        idx = distinct_indices(keys, counter, self.size, batch_size)
        rows = idx.unsqueeze(-1).expand(-1, -1, self.actions.shape[-1])
        return self.actions.gather(1, rows), self.reward.gather(1, idx)

    def state(self, p: int) -> dict:
        n = self.size
        return {"actions": self.actions[p, :n].cpu().numpy(), "reward": self.reward[p, :n].cpu().numpy(),
                "next": self.next, "size": self.size, "capacity": self.capacity}

    def load(self, states: Sequence[dict]) -> None:
        first = states[0]
        if any(int(s["size"]) != int(first["size"]) or int(s["next"]) != int(first["next"]) for s in states):
            raise SettingsError("population members' replay buffers are out of step")
        if int(first["capacity"]) != self.capacity:
            raise SettingsError("the checkpoint's replay buffer has another capacity")
        n = int(first["size"])
        dev = self.actions.device
        self.actions[:, :n] = torch.as_tensor(np.stack([s["actions"] for s in states]), device=dev)
        self.reward[:, :n] = torch.as_tensor(np.stack([s["reward"] for s in states]), device=dev)
        self.size, self.next = n, int(first["next"])


#: tries of the rejection sampler before it falls back to sorting random keys
_REJECTION_TRIES = 32


def distinct_indices(keys: torch.Tensor, counter: int, size: int, k: int) -> torch.Tensor:
    """Per member, ``k`` distinct integers drawn uniformly from ``[0, size)``: ``(P, k)``, sorted.

    Rows of ``k`` uniform draws are redrawn (from sub-draws of the same counter, so the
    stream does not depend on other members) until they hold no repeat; small ``size``, or a
    row still repeating after the tries, uses the order of ``size`` random keys instead.
    Both give every k-subset the same probability.
    """
    if k > size:
        raise SettingsError(f"cannot sample {k} episodes from a buffer holding {size}")
    P = keys.shape[0]
    if size <= 4 * k:
        return uniform(keys, counter, (size,), sub=_REJECTION_TRIES).argsort(dim=1)[:, :k].sort(dim=1).values
    out = torch.empty(P, k, dtype=torch.int64, device=keys.device)
    todo = torch.arange(P, device=keys.device)
    for sub in range(_REJECTION_TRIES):
        draw = (uniform(keys[todo], counter, (k,), sub=sub) * size).long().clamp(max=size - 1).sort(dim=1).values
        ok = (draw[:, 1:] != draw[:, :-1]).all(dim=1)
        out[todo[ok]] = draw[ok]
        todo = todo[~ok]
        if not todo.numel():
            return out
    out[todo] = uniform(keys[todo], counter, (size,), sub=_REJECTION_TRIES).argsort(dim=1)[:, :k].sort(dim=1).values
    return out


def population_greedy(learner: PopulationLearner, game: OneStepGame):
    """Each member's greedy final action ``(P, n)``, its 0-based round ``(P,)`` and every round's ``[(P, n)]``.

    The agents see the game's one observation with a zero GRU state (the start of the
    episode), as the controller's first step does.
    """
    algo = learner.algo
    with torch.no_grad():
        last = torch.full(game.obs.shape[:1], -1, device=game.obs.device) if algo.obs_last_action else None
        inputs = agent_inputs(game.obs, last, learner.info.n_actions, algo.obs_agent_id).unsqueeze(0)
        h = learner.agent.recur(inputs, None)
        rounds = run_rounds(learner.agent, h, game.avail.unsqueeze(0), algo.rounds)
        state = game.state.unsqueeze(0)
        q_jt = (lambda a: learner.joint(state, a)) if learner.joint is not None else None
        final, which = greedy_final(rounds, q_jt)
    return final, which, rounds.greedy


def explore(algo, final, per_round, avail, eps: float, keys, counter: int, n_envs: int) -> torch.Tensor:
    """Behaviour joint actions ``(P, E, n)`` around the greedy final actions ``(P, n)``.

    The controller's rules (:class:`stablepoint.rl.controller.Controller`): a uniformly
    random available action per agent with probability eps (decentralized, MRVF Eq. 2) or
    for the whole joint action (centralized, Eq. 8); then, with probability ``preselect_p``,
    a uniformly chosen round's greedy action (MRVF Sec. 4.3).
    """
    P, n = final.shape
    E, A = n_envs, avail.shape[-1]
    random = (uniform(keys, counter, (E, n, A), sub=0) * avail).argmax(dim=-1)
    if algo.exploration == "centralized":
        go = (uniform(keys, counter, (E,), sub=1) < eps).unsqueeze(-1).expand(P, E, n)
    else:
        go = uniform(keys, counter, (E, n), sub=1) < eps
    actions = torch.where(go, random, final.unsqueeze(1))
    if algo.preselect_p > 0.0:
        pre = uniform(keys, counter, (E,), sub=2) < algo.preselect_p
        k = (uniform(keys, counter, (E,), sub=3) * len(per_round)).long().clamp(max=len(per_round) - 1)
        rounds = torch.stack(per_round, dim=1)  # (P, K, n)
        chosen = rounds.gather(1, k.unsqueeze(-1).expand(P, E, n))
        actions = torch.where(pre.unsqueeze(-1), chosen, actions)
    return actions


# ----------------------------------------------------------------------------------------
# The training loop
# ----------------------------------------------------------------------------------------


def population_key(cfg: TrainConfig) -> tuple:
    """Configs with the same key can train in one population (all but seed, game, name and parent directory)."""
    shared = dataclasses.replace(cfg, seed=0, run_name="", out="", env=dataclasses.replace(cfg.env, spec=""))
    return (json.dumps(config_to_dict(shared), sort_keys=True, default=str), _game_shape(cfg.env.spec))


def _game_shape(spec: str):
    if not spec.startswith("matrix:"):
        return None
    return tuple(make_env(spec, 1, seed=0).payoff.shape)


def can_vectorize(cfg: TrainConfig) -> bool:
    """Whether a config's env is a one-step matrix game (what :func:`train_population` trains)."""
    return cfg.env.spec.startswith("matrix:")


def _check_population(cfgs: Sequence[TrainConfig]) -> None:
    from stablepoint.rl.train import run_dir_for

    if not cfgs:
        raise SettingsError("train_population needs at least one config")
    bad = [c.env.spec for c in cfgs if not can_vectorize(c)]
    if bad:
        raise SettingsError(f"population training is for one-step matrix games; got {bad[0]!r}")
    keys = {population_key(c) for c in cfgs}
    if len(keys) != 1:
        raise SettingsError("population members must share every setting but seed, game and run name, "
                            "and play games of one shape")
    dirs = [run_dir_for(c) for c in cfgs]
    if len(set(dirs)) != len(dirs):
        raise SettingsError("population members must have distinct run directories")


def train_population(
    cfgs: Sequence[TrainConfig],
    *,
    resume: bool = False,
    progress: Callable[[int, int, dict], None] | None = None,
    force: bool = False,
):
    """Train every config of ``cfgs`` (one algorithm, one setting, seeds x games) as one population.

    Each member writes its run directory as :func:`stablepoint.rl.train.train` would; with
    ``resume`` the members continue from their checkpoints (all must be at the same step, or
    none may have one).  Every member's run directory is locked
    (:class:`stablepoint.rl.runfolder.RunLock`) before any training starts, and refused as
    :func:`stablepoint.rl.train.train` refuses it (a finished run without ``resume`` or
    ``force``, a damaged checkpoint or log).  SIGINT/SIGTERM checkpoints every member at the
    last completed step and raises :class:`stablepoint.interrupts.Interrupted`.

    Returns
    -------
    list of TrainResult
        In the order of ``cfgs``.
    """
    from stablepoint.rl.train import (
        resolve_device,
        run_dir_for,
    )

    from stablepoint.rl import runfolder

    _check_population(cfgs)
    cfg0 = cfgs[0]
    torch.set_num_threads(cfg0.torch_threads)
    device = resolve_device(cfg0.device)
    run_dirs = [run_dir_for(c) for c in cfgs]
    with runfolder.lock_all(run_dirs):
        return _train_population(cfgs, run_dirs, device, resume, progress, force)


def _train_population(cfgs, run_dirs, device, resume, progress, force):
    from stablepoint.interrupts import Interrupted, deferred
    from stablepoint.rl import runfolder
    from stablepoint.rl.train import TrainResult, _Metrics, _save_checkpoint, matrix_tables, next_mark, round_shares

    cfg0 = cfgs[0]
    for d in run_dirs:
        runfolder.refuse_rerun(d, resume, force)
    ckpts = [d / "checkpoints" / "last.pt" for d in run_dirs]
    checkpoints = None
    if resume and any(p.exists() for p in ckpts):
        if not all(p.exists() for p in ckpts):
            raise SettingsError("some population members have a checkpoint and others not; resume them apart")
        checkpoints = []
        for cfg, d, p in zip(cfgs, run_dirs, ckpts):
            ck = runfolder.load_checkpoint(p, device)
            if "population" not in ck:
                raise SettingsError(f"{d}: the checkpoint is a single run's; resume it with stablepoint train --resume")
            saved = load_config(d / "config.yaml")
            if dataclasses.replace(saved, steps=cfg.steps, device=cfg.device) != dataclasses.replace(cfg, device=cfg.device):
                raise SettingsError(f"{d}: the checkpoint was made with a different config; only --steps may change")
            checkpoints.append(ck)
        if len({ck["t_env"] for ck in checkpoints}) != 1:
            raise SettingsError("population members' checkpoints are at different steps; resume them apart")
    for cfg, d in zip(cfgs, run_dirs):
        if checkpoints is None and force:
            runfolder.clear_previous_run(d)
        d.mkdir(parents=True, exist_ok=True)
        save_config(cfg, d / "config.yaml")

    # -- games, members, buffer ----------------------------------------------------------
    envs = [make_env(c.env.spec, 1, seed=c.seed) for c in cfgs]
    game = OneStepGame.from_envs(envs, device)
    info, algo, P, E = envs[0].info, cfg0.algo, len(cfgs), cfg0.env.n_envs
    seeds = [c.seed for c in cfgs]
    members = []
    for seed in seeds:
        torch.manual_seed(seed)  # as train() seeds before it builds the learner
        members.append(Learner(algo, info, cfg0.env.gamma, device, seed=seed))
    if checkpoints is None:
        for learner, env, d in zip(members, envs, run_dirs):
            runfolder.write_text_atomic(d / "initial.json", json.dumps({"matrix": matrix_tables(learner, env).to_dict()}, indent=1))
    learner = PopulationLearner(members)
    del members
    schedule = LinearSchedule(cfg0.epsilon_start, cfg0.epsilon_finish, cfg0.epsilon_anneal_steps)
    buffer = OneStepBuffer(P, cfg0.buffer_size, info.n_agents, device)
    act_keys = stream_keys(seeds, ACT_STREAM, device)
    sample_keys = stream_keys(seeds, SAMPLE_STREAM, device)

    t_env = episodes = iteration = 0
    round_counts = np.zeros((P, algo.rounds), dtype=np.int64)
    marks = {"log": 0, "test": 0, "save": cfg0.save_interval}
    resumed_from = None
    if checkpoints is not None:
        learner.load_member_state_dicts([ck["learner"] for ck in checkpoints])
        buffer.load([ck["population"]["buffer"] for ck in checkpoints])
        first = checkpoints[0]
        t_env, episodes, marks = first["t_env"], first["episodes"], dict(first["marks"])
        iteration = int(first["population"]["iteration"])
        round_counts = np.stack([np.asarray(ck["population"]["round_counts"]) for ck in checkpoints])
        resumed_from = t_env
    # what was collected since the last log row (a checkpoint written at an interrupt holds some)
    window_returns: list[torch.Tensor] = []
    window_stats: list[dict] = []
    windows = None if checkpoints is None else [ck["population"].get("window") for ck in checkpoints]
    if windows and all(w is not None for w in windows):
        window_returns = [torch.stack([w["returns"][i] for w in windows]).to(device)
                          for i in range(len(windows[0]["returns"]))]
        window_stats = [{k: torch.stack([w["stats"][i][k] for w in windows]).to(device) for k in windows[0]["stats"][i]}
                        for i in range(len(windows[0]["stats"]))]
    metrics = [_Metrics(d, c.tensorboard, resumed_from, live_tensorboard=False,
                        wandb=config_to_dict(c) if c.wandb else None, wandb_project=c.wandb_project)
               for c, d in zip(cfgs, run_dirs)]
    initial_greedy = [tuple(json.loads((d / "initial.json").read_text())["matrix"]["greedy"]) for d in run_dirs]

    def save() -> None:
        for p, (cfg, path) in enumerate(zip(cfgs, ckpts)):
            _save_checkpoint(path, {
                "config": config_to_dict(cfg),
                "learner": learner.member_state_dict(p),
                "population": {"buffer": buffer.state(p), "iteration": iteration,
                               "round_counts": round_counts[p].copy(), "members": P,
                               "window": {"returns": [r[p].cpu().clone() for r in window_returns],
                                          "stats": [{k: v[p].cpu().clone() for k, v in st.items()}
                                                    for st in window_stats]}},
                "t_env": t_env,
                "episodes": episodes,
                "marks": marks,
            })
            # what a sweep reads to group members for a resume without loading checkpoints
            runfolder.write_text_atomic(path.with_suffix(".json"),
                                        json.dumps({"population": True, "t_env": t_env, "members": P}))

    def evaluate() -> list[dict]:
        # greedy play of a deterministic one-step game: every test episode pays the same
        final, which, _ = population_greedy(learner, game)
        reward, optimal = game.pay(final.unsqueeze(1))
        runs = math.ceil(cfg0.test_episodes / E) * E
        np.add.at(round_counts, (np.arange(P), which.cpu().numpy()), runs)
        reward, optimal = reward[:, 0].cpu().numpy(), optimal[:, 0].cpu().numpy()
        return [{"test/return_mean": float(reward[p]), "test/return_std": 0.0,
                 "test/optimal_mean": float(optimal[p])} for p in range(P)]

    # -- the loop ------------------------------------------------------------------------
    latest: list[dict] = [{} for _ in range(P)]
    start, start_t = time.perf_counter(), t_env
    with deferred() as stop:  # SIGINT/SIGTERM: checkpoint every member at the last completed step, then stop
        while t_env < cfg0.steps:
            final, _, per_round = population_greedy(learner, game)
            actions = explore(algo, final, per_round, game.avail, schedule(t_env), act_keys, iteration, E)
            reward, _ = game.pay(actions)
            buffer.insert(actions, reward)
            t_env += E
            episodes += E
            window_returns.append(reward)
            if buffer.size >= cfg0.batch_size:
                acts, rews = buffer.sample(cfg0.batch_size, sample_keys, iteration)
                window_stats.append(learner.update(one_step_batch(game, acts, rews), epsilon=schedule(t_env)))
                if learner.n_updates % cfg0.target_update_interval == 0:
                    learner.update_targets()
            iteration += 1

            if t_env >= marks["test"]:
                latest = evaluate()
                for m, row in zip(metrics, latest):
                    m.log(t_env, row)
                marks["test"] = next_mark(marks["test"], t_env, cfg0.test_interval)
            if t_env >= marks["log"]:
                returns = torch.cat(window_returns, dim=1).mean(dim=1).cpu().numpy()
                means = {}
                for key in window_stats[-1] if window_stats else ():
                    means[key] = torch.stack([s[key] for s in window_stats if key in s]).mean(dim=0).cpu().numpy()
                rate = (t_env - start_t) / max(time.perf_counter() - start, 1e-9)
                for p, m in enumerate(metrics):
                    row = {"train/return_mean": float(returns[p]), "train/epsilon": schedule(t_env),
                           "train/episodes": float(episodes), "train/updates": float(learner.n_updates),
                           "train/steps_per_s": rate}
                    row.update({key: float(v[p]) for key, v in means.items()})
                    m.log(t_env, row)
                    latest[p] = {**latest[p], **row}
                window_returns, window_stats = [], []
                marks["log"] = next_mark(marks["log"], t_env, cfg0.log_interval)
            if t_env >= marks["save"] and t_env < cfg0.steps:
                marks["save"] = next_mark(marks["save"], t_env, cfg0.save_interval)
                save()
            if progress is not None:
                progress(t_env, cfg0.steps, latest[0])
            if stop.requested:
                with stop.critical():
                    save()
                raise Interrupted(f"interrupted at t_env = {t_env}; checkpoints of all {P} members written, "
                                  "continue with resume")

        # -- final evaluation, member by member ----------------------------------------------
        final_tests = evaluate()
        for m, row in zip(metrics, final_tests):
            m.log(t_env, row)
            m.close()
        with stop.critical():
            save()
        results = []
        for p, (cfg, d, env) in enumerate(zip(cfgs, run_dirs, envs)):
            tables = matrix_tables(learner.member(p, seed=cfg.seed), env)
            test = final_tests[p]
            if algo.rounds > 1:
                counts = round_counts[p]
                test = {**test, **round_shares(counts)}
            summary = {
                "t_env": t_env,
                "episodes": episodes,
                "n_updates": learner.n_updates,
                "test": test,
                "resumed_from": resumed_from,
                "matrix": tables.to_dict(),
                "initial_greedy": list(initial_greedy[p]),
                "trainer": {"kind": "population", "members": P},
            }
            with stop.critical():
                runfolder.write_text_atomic(d / "final.json", json.dumps(summary, indent=1))
            results.append(TrainResult(d, t_env, episodes, learner.n_updates, test, tables, resumed_from, initial_greedy[p]))
    if stop.requested:
        raise Interrupted("interrupted as the population finished; every member's results are written")
    return results
