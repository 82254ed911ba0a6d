"""One-step cooperative matrix games from any :class:`~stablepoint.payoff.Payoff`.

Each episode is a single step: every agent picks an action, the team reward is
``payoff[u]`` for the joint action ``u``, and the episode terminates
(``episode_limit = 1``).  The observation carries nothing about the other
agents, so agents cannot condition on each other:

* ``obs="agent_id"`` (default): the agent's one-hot id, ``obs_dim = n_agents``;
* ``obs="constant"``: a single 1.0, ``obs_dim = 1``.

The state is a constant 1.0 (``state_dim = 1``), as in the papers' one-step
games: a state-conditioned mixer sees the same input every time.  Agents with
fewer actions than the largest (``n_actions = max A_i``) have the extra
actions masked out in ``avail_actions``.

Step ``info`` holds ``optimal``: 1 where the joint action is in the payoff's
arg-max set (within ``VALUE_ATOL``), else 0, per copy; the runner sums it, so
``EpisodeStats.summary()["optimal_mean"]`` is the fraction of copies that
played an optimal joint action.

>>> from stablepoint.catalog import get_game
>>> env = MatrixGameEnv(get_game("table5"), n_envs=2)
>>> env.reset()
>>> reward, terminated, _ = env.step(np.array([[0, 0], [2, 2]]))
>>> reward.tolist(), terminated.tolist()
([8.0, 5.0], [True, True])
"""

from __future__ import annotations

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.payoff import Payoff
from stablepoint.rl.envs.base import EnvInfo, check_actions, check_n_envs
from stablepoint.tolerances import VALUE_ATOL

__all__ = ["MatrixGameEnv", "OBS_MODES"]

#: observation modes and their obs_dim as a function of n_agents.
OBS_MODES = {"agent_id": lambda n: n, "constant": lambda n: 1}


class MatrixGameEnv:
    """``n_envs`` copies of the one-step game with team reward ``payoff[u]``.

    Parameters
    ----------
    payoff : Payoff
        The joint-action payoff; any number of agents.
    n_envs : int
        Number of copies stepped together.
    seed : int, optional
        Accepted for the common interface; the game itself is deterministic.
    obs : {"agent_id", "constant"}
        What each agent observes (see the module docstring).
    """

    def __init__(self, payoff: Payoff, n_envs: int = 1, seed: int | None = None, *, obs: str = "agent_id"):
        if not isinstance(payoff, Payoff):
            raise SettingsError(f"matrix env needs a Payoff, got {type(payoff).__name__}")
        if obs not in OBS_MODES:
            raise SettingsError(f"unknown matrix obs mode {obs!r}; choose one of: {', '.join(OBS_MODES)}")
        self.payoff = payoff
        self.n_envs = check_n_envs(n_envs)
        self.obs_mode = obs
        #: the settings, for run records
        self.options = {"game": payoff.name, "shape": list(payoff.shape), "obs": obs}
        n, shape = payoff.n_agents, payoff.shape
        self.info = EnvInfo(
            n_agents=n,
            n_actions=max(shape),
            obs_dim=OBS_MODES[obs](n),
            state_dim=1,
            episode_limit=1,
        )
        self._values = payoff.values.astype(np.float32)
        self._optimal = payoff.values >= payoff.values.max() - VALUE_ATOL
        mask = np.zeros((n, self.info.n_actions), dtype=bool)
        for i, a in enumerate(shape):
            mask[i, :a] = True
        self._mask = mask
        if obs == "agent_id":
            self._obs = np.eye(n, dtype=np.float32)
        else:
            self._obs = np.ones((n, 1), dtype=np.float32)
        self._done = np.zeros(self.n_envs, dtype=bool)

    def __repr__(self) -> str:
        return f"MatrixGameEnv({self.payoff.name or 'payoff'}, shape={self.payoff.shape}, n_envs={self.n_envs})"

    def reset(self, seed: int | None = None) -> None:
        """Start a new (one-step) episode in every copy; the game has no randomness."""
        self._done[:] = False

    def state_dict(self) -> dict:
        """Nothing to save: the game is deterministic (kept for the common interface)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Accept :meth:`state_dict` output (nothing to restore)."""

    def obs(self) -> np.ndarray:
        """Agent ids (or a constant), ``(n_envs, n_agents, obs_dim)`` float32."""
        return np.broadcast_to(self._obs, (self.n_envs,) + self._obs.shape).copy()

    def state(self) -> np.ndarray:
        """The constant state 1.0, ``(n_envs, 1)`` float32."""
        return np.ones((self.n_envs, 1), dtype=np.float32)

    def avail_actions(self) -> np.ndarray:
        """Each agent's real actions, ``(n_envs, n_agents, max A_i)`` bool."""
        return np.broadcast_to(self._mask, (self.n_envs,) + self._mask.shape).copy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """Reward ``payoff[u]`` per copy; every copy terminates (done copies earn 0)."""
        active = ~self._done
        acts = check_actions(actions, self.avail_actions(), active)
        # done copies may carry any in-range action; clip only to index safely
        safe = np.where(active[:, None], acts, 0)
        reward = self._values[tuple(safe.T)] * active
        optimal = self._optimal[tuple(safe.T)] & active
        self._done[:] = True
        return reward.astype(np.float32), self._done.copy(), {"optimal": optimal.astype(np.int64)}
