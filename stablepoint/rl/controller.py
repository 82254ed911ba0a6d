"""Acting: epsilon schedules and the action selector the runner calls each step.

:class:`Controller` is the ``select_actions(obs, state, avail, t_env, test_mode)``
callable of :func:`stablepoint.rl.runner.run_episodes`.  It keeps the agents' GRU
states across the steps of an episode, runs the K rounds (K = 1 for every
single-round method), picks the greedy final action with early termination, and
explores:

* ``decentralized`` (MRVF Eq. 2, PyMARL's default): each agent independently takes a
  uniformly random available action with probability epsilon;
* ``centralized`` (MRVF Eq. 8): with probability epsilon the whole joint action is random;
* preselected actions (MRVF Sec. 4.3): with probability ``preselect_p`` a uniformly chosen
  round's greedy action is played instead (training only).

Acting runs once per env step, on small batches, so its cost is mostly per-call
overhead rather than arithmetic.  The controller therefore keeps the GRU state and
the last actions as tensors, writes each step's observation into a network-input
buffer whose agent-id (and last-action) columns are kept up to date in place
instead of being rebuilt, and converts to numpy only what the caller receives.
Exploration draws from a numpy generator in a fixed order (the same calls whatever
the outcome), so a seed and a saved generator state reproduce a run exactly.

>>> sched = LinearSchedule(1.0, 0.05, 100)
>>> sched(0), sched(50), sched(1000)
(1.0, 0.525, 0.05)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from stablepoint.rl.agents import agent_inputs
from stablepoint.rl.learner import Learner, greedy_final, run_rounds

__all__ = ["LinearSchedule", "Controller"]


@dataclass(frozen=True)
class LinearSchedule:
    """Linear decay from ``start`` to ``finish`` over ``steps`` env steps, then constant."""

    start: float
    finish: float
    steps: int

    def __call__(self, t_env: int) -> float:
        frac = min(max(t_env, 0) / self.steps, 1.0)
        if frac >= 1.0:
            return float(self.finish)
        return float(self.start + frac * (self.finish - self.start))


class _InputBuffer:
    """The agent network's per-step input ``(E, n, obs | last-action one-hot | agent id)``, kept in place.

    :func:`~stablepoint.rl.agents.agent_inputs` rebuilds the identity and one-hot blocks
    and concatenates every step; here they are written once (agent id) or only where they
    change (last action), and each step copies the observation in.  The layout is checked
    against ``agent_inputs`` on a probe when the buffer is made, and :attr:`ok` is False
    when it differs (then the caller falls back to ``agent_inputs``), so a change to the
    input layout cannot silently desynchronize acting from training.

    Parameters
    ----------
    n_envs, n_agents, obs_dim, n_actions : int
    last_action, agent_id : bool
        Which optional blocks the learner's inputs have (``AlgoConfig.obs_last_action``,
        ``obs_agent_id``).
    device : torch.device
    """

    def __init__(self, n_envs, n_agents, obs_dim, n_actions, last_action, agent_id, device):
        self.shape = (n_envs, n_agents)
        self.obs_dim, self.n_actions = obs_dim, n_actions
        self.last_action, self.agent_id = last_action, agent_id
        width = obs_dim + (n_actions if last_action else 0) + (n_agents if agent_id else 0)
        self.data = torch.zeros(n_envs, n_agents, width, device=device)
        if agent_id:
            self.data[..., width - n_agents :] = torch.eye(n_agents, device=device)
        # views made once: slicing a tensor costs more than the copy into it at these sizes
        self._obs = self.data[..., :obs_dim]
        self._last = self.data[..., obs_dim : obs_dim + n_actions] if last_action else None
        self.ok = self._matches_agent_inputs()
        self.clear_last_actions()

    def _matches_agent_inputs(self) -> bool:
        e, n = self.shape
        dev = self.data.device
        # deterministic probe values (no generator is touched), with every last action and "none"
        obs = torch.arange(e * n * self.obs_dim, dtype=torch.float32, device=dev).reshape(e, n, self.obs_dim)
        last = torch.arange(e * n, device=dev).reshape(e, n) % (self.n_actions + 1) - 1
        try:
            expected = agent_inputs(obs, last if self.last_action else None, self.n_actions, self.agent_id)
        except Exception:  # noqa: BLE001 - any failure just means "use agent_inputs itself"
            return False
        self.set_last_actions(last)
        got = self.fill(obs)
        return got.shape == expected.shape and got.dtype == expected.dtype and torch.equal(got, expected)

    def clear_last_actions(self) -> None:
        """Mark every last action as "none" (the first step of an episode)."""
        if self._last is not None:
            self._last.zero_()

    def set_last_actions(self, actions: torch.Tensor) -> None:
        """Write the one-hot of ``actions`` ``(E, n)`` (-1: none) into the last-action block."""
        if self._last is None:
            return
        actions = actions.to(device=self._last.device, dtype=torch.long)
        self._last.zero_()
        self._last.scatter_(-1, actions.clamp(min=0).unsqueeze(-1), (actions >= 0).unsqueeze(-1).to(self._last.dtype))

    def fill(self, obs: torch.Tensor) -> torch.Tensor:
        """Copy the observation in and return the whole buffer (valid until the next call)."""
        self._obs.copy_(obs)
        return self.data


def _tensor(x, device) -> torch.Tensor:
    """``x`` as a tensor on ``device``, sharing a numpy array's memory where torch allows it.

    ``torch.from_numpy`` is several times cheaper than ``torch.as_tensor`` per call, and the
    env's arrays are fresh and writable; anything else takes the general path.
    """
    if isinstance(x, np.ndarray) and x.flags.writeable:
        try:
            return torch.from_numpy(x).to(device)
        except (TypeError, ValueError):  # a dtype or stride layout torch cannot share
            pass
    return torch.as_tensor(x, device=device)


class Controller:
    """The action selector for one learner (see the module docstring).

    Parameters
    ----------
    learner : Learner
        Supplies the online agent network, the joint network (early termination) and the algorithm.
    schedule : callable
        ``t_env -> epsilon``.
    seed : int
        Seeds the exploration generator (numpy).

    Attributes
    ----------
    hidden : Tensor, shape (E * n, H)
        GRU states of the running episode (set by :meth:`reset`).
    last_actions : Tensor of int64, shape (E, n)
        The actions returned by the previous call (-1 before the first).
    round_counts : ndarray of int64, shape (K,)
        How many greedy final actions each round produced in test mode (MRVF Fig. 14).
    """

    def __init__(self, learner: Learner, schedule, seed: int = 0):
        self.learner = learner
        self.schedule = schedule
        self.rng = np.random.default_rng(seed)
        self.hidden = None
        self.last_actions = None
        self._inputs: _InputBuffer | None = None
        #: how many greedy final actions each round produced in test mode (MRVF Fig. 14)
        self.round_counts = np.zeros(learner.algo.rounds, dtype=np.int64)

    def reset(self, n_envs: int) -> None:
        """Start an episode in ``n_envs`` copies: zero GRU states, no last actions."""
        learner = self.learner
        n = learner.info.n_agents
        self.hidden = learner.agent.init_hidden(n_envs * n)
        self.last_actions = torch.full((n_envs, n), -1, dtype=torch.long, device=learner.device)
        if self._inputs is None or self._inputs.shape != (n_envs, n):
            self._inputs = _InputBuffer(
                n_envs, n, learner.info.obs_dim, learner.info.n_actions,
                learner.algo.obs_last_action, learner.algo.obs_agent_id, learner.device,
            )
        self._inputs.clear_last_actions()

    def _network_inputs(self, obs: torch.Tensor) -> torch.Tensor:
        """This step's agent inputs: the kept buffer when it matches ``agent_inputs``, else ``agent_inputs``."""
        algo = self.learner.algo
        buf = self._inputs
        if buf is not None and buf.ok and tuple(obs.shape) == buf.shape + (buf.obs_dim,):
            return buf.fill(obs)
        last = self.last_actions if algo.obs_last_action else None
        return agent_inputs(obs, last, self.learner.info.n_actions, algo.obs_agent_id)

    def _greedy(self, obs, state, avail):
        """:meth:`greedy` as tensors: ``(final, which, per-round greedy list)``, advancing the GRU."""
        learner = self.learner
        dev = learner.device
        E, n = obs.shape[:2]
        if self.hidden is None:
            self.reset(E)
        with torch.no_grad():
            inputs = self._network_inputs(_tensor(obs, dev))
            self.hidden = learner.agent.recur(inputs.reshape(E * n, -1), self.hidden)
            h = self.hidden.view(E, n, -1)
            rounds = run_rounds(learner.agent, h, _tensor(avail, dev), learner.algo.rounds)
            q_jt = None
            if learner.joint is not None:
                state_t = _tensor(state, dev)
                q_jt = lambda a: learner.joint(state_t, a)  # noqa: E731
            final, which = greedy_final(rounds, q_jt)
        return final, which, rounds.greedy

    def greedy(self, obs, state, avail) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Advance the GRU one step; return (greedy final action, its round, every round's greedy)."""
        final, which, per_round = self._greedy(obs, state, avail)
        return final.cpu().numpy(), which.cpu().numpy(), [g.cpu().numpy() for g in per_round]

    def _random_actions(self, avail: np.ndarray) -> np.ndarray:
        u = self.rng.random(avail.shape) * avail
        return u.argmax(axis=-1)

    def __call__(self, obs, state, avail, t_env, test_mode):
        """Actions ``(E, n)`` int64 for one env step, and no extras (see the module docstring)."""
        final_t, which_t, per_round_t = self._greedy(obs, state, avail)
        final = final_t.cpu().numpy()
        if test_mode:
            self.round_counts += np.bincount(which_t.cpu().numpy().ravel(), minlength=len(self.round_counts))
            actions = final.astype(np.int64)  # a copy: ``final`` is the network output's memory
        else:
            algo = self.learner.algo
            eps = self.schedule(t_env)
            E, n = final.shape
            random = self._random_actions(np.asarray(avail))
            if algo.exploration == "centralized":
                explore = np.broadcast_to((self.rng.random(E) < eps)[:, None], (E, n))
            else:
                explore = self.rng.random((E, n)) < eps
            actions = np.where(explore, random, final)
            if algo.preselect_p > 0.0:
                pre = self.rng.random(E) < algo.preselect_p
                k = self.rng.integers(len(per_round_t), size=E)
                chosen = torch.stack(per_round_t, dim=0).cpu().numpy()[k, np.arange(E)]
                actions = np.where(pre[:, None], chosen, actions)
        actions = actions.astype(np.int64, copy=False)  # fresh in both branches: the caller's to keep
        # a copy, on the learner's device: ``actions`` belongs to the caller from here on
        self.last_actions = torch.from_numpy(actions.copy()).to(self.learner.device)
        if self._inputs is not None and self._inputs.ok:
            self._inputs.set_last_actions(self.last_actions)
        return actions, {}

    def state_dict(self) -> dict:
        """The exploration generator's state and the round counts, for exact resumption."""
        return {"rng": self.rng.bit_generator.state, "round_counts": self.round_counts.copy()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.rng.bit_generator.state = state["rng"]
        self.round_counts = np.asarray(state["round_counts"]).copy()
