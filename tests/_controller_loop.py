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
    """

    def __init__(self, learner: Learner, schedule, seed: int = 0):
        self.learner = learner
        self.schedule = schedule
        self.rng = np.random.default_rng(seed)
        self.hidden = None
        self.last_actions = None
        #: how many greedy final actions each round produced in test mode (MRVF Fig. 14)
        self.round_counts = np.zeros(learner.algo.rounds, dtype=np.int64)

    def reset(self, n_envs: int) -> None:
        n = self.learner.info.n_agents
        self.hidden = self.learner.agent.init_hidden(n_envs * n)
        self.last_actions = np.full((n_envs, n), -1, dtype=np.int64)

    def greedy(self, obs, state, avail) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Advance the GRU one step; return (greedy final action, its round, every round's greedy)."""
        learner = self.learner
        dev = learner.device
        E, n = obs.shape[:2]
        algo = learner.algo
        with torch.no_grad():
            obs_t = torch.as_tensor(obs, device=dev)
            last = torch.as_tensor(self.last_actions, device=dev) if algo.obs_last_action else None
            inputs = agent_inputs(obs_t, last, learner.info.n_actions, algo.obs_agent_id)
            self.hidden = learner.agent.recur(inputs.reshape(E * n, -1), self.hidden)
            h = self.hidden.view(E, n, -1)
            avail_t = torch.as_tensor(avail, device=dev)
            rounds = run_rounds(learner.agent, h, avail_t, algo.rounds)
            state_t = torch.as_tensor(state, device=dev)
            q_jt = (lambda a: learner.joint(state_t, a)) if learner.joint is not None else None
            final, which = greedy_final(rounds, q_jt)
        return final.cpu().numpy(), which.cpu().numpy(), [g.cpu().numpy() for g in rounds.greedy]

    def _random_actions(self, avail: np.ndarray) -> np.ndarray:
        u = self.rng.random(avail.shape) * avail
        return u.argmax(axis=-1)

    def __call__(self, obs, state, avail, t_env, test_mode):
        final, which, per_round = self.greedy(obs, state, avail)
        if test_mode:
            np.add.at(self.round_counts, which, 1)
            actions = final
        else:
            algo = self.learner.algo
            eps = self.schedule(t_env)
            E, n = final.shape
            random = self._random_actions(avail)
            if algo.exploration == "centralized":
                explore = np.broadcast_to((self.rng.random(E) < eps)[:, None], (E, n))
            else:
                explore = self.rng.random((E, n)) < eps
            actions = np.where(explore, random, final)
            if algo.preselect_p > 0.0:
                pre = self.rng.random(E) < algo.preselect_p
                k = self.rng.integers(len(per_round), size=E)
                chosen = np.stack(per_round, axis=0)[k, np.arange(E)]
                actions = np.where(pre[:, None], chosen, actions)
        actions = actions.astype(np.int64)
        self.last_actions = actions
        return actions, {}

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "round_counts": self.round_counts.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.round_counts = np.asarray(state["round_counts"]).copy()
