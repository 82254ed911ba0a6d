"""Run one episode in every copy of a batched env, in lockstep, and collect it.

:func:`run_episodes` resets all copies, then steps them together until every
copy is done or ``episode_limit`` steps have passed.  A copy that terminates
early is masked: it is not stepped (its actions are ignored by the env) and its
remaining steps are padding.  The result is an
:class:`~stablepoint.rl.buffer.EpisodeBatch` ready for
:meth:`~stablepoint.rl.buffer.EpisodeBuffer.insert` plus an
:class:`EpisodeStats` summary.

The action selector is any callable

``select_actions(obs, state, avail, t, test_mode) -> (actions, extras)``

with ``obs`` ``(E, n, obs_dim)``, ``state`` ``(E, state_dim)``, ``avail``
``(E, n, A)`` bool, ``t`` the global env-step counter ``t_env`` given to
:func:`run_episodes` (fixed during the call, as in PyMARL, so epsilon schedules
read it), and ``test_mode`` a bool.  It returns ``actions`` ``(E, n)`` int64 and
a dict of extra per-step arrays with leading dimension ``E`` (e.g. MRVF's
per-round greedy actions), stored in the batch under their keys.  If the
selector has a ``reset(n_envs)`` method (to clear GRU hidden states), it is
called once at the start of every call.

>>> from stablepoint.rl.envs import make_env
>>> env = make_env("matrix:table5", n_envs=3)
>>> def diagonal(obs, state, avail, t, test_mode):
...     return np.full(obs.shape[:2], 2, dtype=np.int64), {}
>>> batch, stats = run_episodes(env, diagonal, test_mode=True, t_env=0)
>>> stats.returns.tolist(), stats.lengths.tolist(), batch["filled"].tolist()
([5.0, 5.0, 5.0], [1, 1, 1], [[True, False], [True, False], [True, False]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.rl.buffer import EpisodeBatch, STANDARD_FIELDS
from stablepoint.rl.envs.base import VecEnv

__all__ = ["EpisodeStats", "run_episodes"]


@dataclass(frozen=True)
class EpisodeStats:
    """Per-copy summary of one :func:`run_episodes` call.

    Attributes
    ----------
    returns : ndarray of float64, shape (E,)
        Undiscounted episode returns.
    lengths : ndarray of int64, shape (E,)
        Steps taken per copy.
    terminated : ndarray of bool, shape (E,)
        True termination (False: stopped by the time limit).
    info_totals : mapping of str to ndarray, shape (E,)
        Per-copy sums of the numeric arrays in the env's step ``info`` dicts
        over the episode (for predator-prey: ``captures`` and ``miscaptures``).
    test_mode : bool
    """

    returns: np.ndarray
    lengths: np.ndarray
    terminated: np.ndarray
    info_totals: dict
    test_mode: bool

    @property
    def env_steps(self) -> int:
        """Environment steps taken in all copies together (what ``t_env`` advances by)."""
        return int(self.lengths.sum())

    @property
    def captures(self) -> np.ndarray | None:
        """Prey captured per copy, or None for envs that report no captures."""
        return self.info_totals.get("captures")

    def summary(self) -> dict[str, float]:
        """Means over copies, namespaced for logging (``return_mean``, ``captures_mean`` ...)."""
        out = {
            "return_mean": float(self.returns.mean()),
            "return_std": float(self.returns.std()),
            "length_mean": float(self.lengths.mean()),
            "terminated_mean": float(self.terminated.mean()),
        }
        for key, value in self.info_totals.items():
            out[f"{key}_mean"] = float(np.mean(value))
        return out


def run_episodes(
    env: VecEnv,
    select_actions: Callable,
    *,
    test_mode: bool,
    t_env: int,
    seed: int | None = None,
) -> tuple[EpisodeBatch, EpisodeStats]:
    """Run one episode in every copy of ``env`` and return the padded batch and stats.

    Parameters
    ----------
    env : VecEnv
        The batched env; it is reset here.
    select_actions : callable
        ``(obs, state, avail, t, test_mode) -> (actions, extras)``, see the module docstring.
    test_mode : bool
        Passed through to ``select_actions`` (greedy evaluation when True).
    t_env : int
        Global env-step count before this call, passed as ``t``.
    seed : int, optional
        Re-seed the env at reset (otherwise its generator continues).

    Returns
    -------
    batch : EpisodeBatch
        Time dimension ``episode_limit + 1``; extra fields from ``select_actions``.
    stats : EpisodeStats
    """
    info = env.info
    n_envs, limit = env.n_envs, info.episode_limit
    reset = getattr(select_actions, "reset", None)
    if callable(reset):
        reset(n_envs)
    env.reset(seed)

    batch = EpisodeBatch.empty(info, n_envs)
    data = batch.data  # filled in place; EpisodeBatch is frozen but its arrays are ours
    extras: dict[str, np.ndarray] = {}
    returns = np.zeros(n_envs, dtype=np.float64)
    lengths = np.zeros(n_envs, dtype=np.int64)
    terminated = np.zeros(n_envs, dtype=bool)
    info_totals: dict[str, np.ndarray] = {}

    active = np.ones(n_envs, dtype=bool)
    for t in range(limit + 1):
        obs, state, avail = env.obs(), env.state(), env.avail_actions()
        # copies still running and those that just ended: the latter need their final observation
        seen = np.flatnonzero(lengths == t)
        data["obs"][seen, t] = obs[seen]
        data["state"][seen, t] = state[seen]
        data["avail_actions"][seen, t] = avail[seen]
        rows = np.flatnonzero(active)
        if t == limit or not rows.size:
            break
        actions, step_extras = select_actions(obs, state, avail, t_env, bool(test_mode))
        actions = np.asarray(actions)
        if actions.shape != (n_envs, info.n_agents):
            raise SettingsError(f"select_actions returned shape {actions.shape}, expected {(n_envs, info.n_agents)}")
        reward, term, step_info = env.step(actions)
        data["actions"][rows, t] = actions[rows]
        data["reward"][rows, t] = reward[rows]
        data["terminated"][rows, t] = term[rows]
        data["filled"][rows, t] = True
        for key, value in dict(step_extras or {}).items():
            value = np.asarray(value)
            if key in STANDARD_FIELDS or value.shape[:1] != (n_envs,):
                raise SettingsError(
                    f"extra {key!r} from select_actions must be a new field with leading dimension {n_envs}"
                )
            if key not in extras:
                extras[key] = np.zeros((n_envs, limit + 1) + value.shape[1:], dtype=value.dtype)
            extras[key][rows, t] = value[rows]
        for key, value in step_info.items():
            value = np.asarray(value)
            if value.shape == (n_envs,) and np.issubdtype(value.dtype, np.number):
                total = info_totals.setdefault(key, np.zeros(n_envs, dtype=np.float64))
                total[rows] += value[rows]
        returns[rows] += reward[rows]
        lengths[rows] += 1
        terminated[rows] |= term[rows]
        active &= ~term

    data.update(extras)
    batch = EpisodeBatch(data, lengths)
    stats = EpisodeStats(returns, lengths, terminated, info_totals, bool(test_mode))
    return batch, stats
