"""A scripted stand-in for SMAC's StarCraft2Env: the SMAC adapter's test double (no StarCraft II needed)."""

from __future__ import annotations

import numpy as np


class FakeStarCraft2Env:
    """A scripted stand-in with StarCraft2Env's methods, for testing :class:`SMACEnv` without SC2.

    Deterministic: observation entries encode (seed, step, agent), the reward of
    a step is ``sum(actions) - 3`` (so it can be negative), and the episode ends
    with a win when every agent picks action 1 (attack), or at ``episode_limit``
    with ``info["episode_limit"] = True``.  Agent 0 dies at step 2: it then has
    the no-op (action 0) only.  ``reward_only_positive=True`` takes the absolute
    value, as StarCraft2Env does.  Every call is recorded in ``calls``.
    """

    def __init__(self, map_name="3m", seed=0, reward_only_positive=True, episode_limit=5, **kwargs):
        self.map_name, self.seed, self.reward_only_positive = map_name, seed, reward_only_positive
        self.kwargs = kwargs
        self.n_agents, self.n_actions, self.episode_limit = 3, 9, episode_limit
        self.t = 0
        self.calls: list[str] = []

    def get_env_info(self):
        self.calls.append("get_env_info")
        return {"n_agents": 3, "n_actions": 9, "obs_shape": 4, "state_shape": 6, "episode_limit": self.episode_limit}

    def reset(self):
        self.calls.append("reset")
        self.t = 0
        return self.get_obs(), self.get_state()

    def get_obs(self):
        return [np.array([self.seed, self.t, i, 1.0]) for i in range(self.n_agents)]

    def get_state(self):
        return np.array([self.seed, self.t, 0.0, 0.0, 0.0, 1.0])

    def get_avail_actions(self):
        rows = []
        for i in range(self.n_agents):
            row = [1] * self.n_actions
            if i == 0 and self.t >= 2:
                row = [1] + [0] * (self.n_actions - 1)
            rows.append(row)
        return rows

    def step(self, actions):
        self.calls.append(f"step{list(actions)}")
        if self.t >= self.episode_limit:
            raise RuntimeError("stepped after the episode ended")
        avail = self.get_avail_actions()
        for i, a in enumerate(actions):
            if not avail[i][a]:
                raise RuntimeError(f"agent {i} took unavailable action {a}")
        self.t += 1
        reward = float(sum(actions) - 3)
        if self.reward_only_positive:
            reward = abs(reward)
        won = all(a == 1 for a in actions)
        limit = self.t >= self.episode_limit and not won
        info = {"battle_won": won}
        if limit:
            info["episode_limit"] = True
        return reward, won or limit, info

    def close(self):
        self.calls.append("close")
