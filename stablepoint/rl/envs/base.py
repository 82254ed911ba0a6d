"""The batched multi-agent environment interface shared by every env.

An env object holds ``n_envs`` independent copies of one task and steps them
together with numpy (one process, no subprocesses: CI has two cores).  All
copies start an episode together at :meth:`VecEnv.reset`; a copy that
terminates stays terminated (its reward is 0 and its state frozen) until the
next reset, and the runner masks it out.  Time limits are the runner's job:
``terminated`` reports true termination only, never the ``episode_limit``.

Array conventions (``E = n_envs``, ``n = n_agents``, ``A = n_actions``):

=================  ======================  =======
``obs()``          ``(E, n, obs_dim)``     float32
``state()``        ``(E, state_dim)``      float32
``avail_actions``  ``(E, n, A)``           bool
``step`` actions   ``(E, n)``              int64
reward             ``(E,)``                float32
terminated         ``(E,)``                bool
=================  ======================  =======

Every row of ``avail_actions`` has at least one available action, also for
agents that are removed or copies that are done, so a max over available
actions never runs over an empty set.

Every env in the registry also carries ``options``, a plain dict of its
settings (for predator-prey including ``capture_rule``), to be written into
run records, and ``state_dict()`` / ``load_state_dict()`` for its random
generator, so a checkpointed run resumes with the same env randomness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from stablepoint.errors import SettingsError

__all__ = ["EnvInfo", "VecEnv", "check_n_envs", "check_actions"]


@dataclass(frozen=True)
class EnvInfo:
    """Static sizes of an environment, what learners build their networks from.

    Attributes
    ----------
    n_agents : int
        Number of agents n.
    n_actions : int
        Actions per agent (the largest, where agents differ; the others are
        masked out by ``avail_actions``).
    obs_dim : int
        Length of one agent's observation vector.
    state_dim : int
        Length of the global state vector.
    episode_limit : int
        The most steps an episode can last; the runner stops there.
    """

    n_agents: int
    n_actions: int
    obs_dim: int
    state_dim: int
    episode_limit: int


@runtime_checkable
class VecEnv(Protocol):
    """``n_envs`` copies of one multi-agent task stepped in lockstep (see the module docstring)."""

    info: EnvInfo
    n_envs: int

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode in every copy; ``seed`` re-seeds the env's generator."""

    def obs(self) -> np.ndarray:
        """Per-agent observations, ``(n_envs, n_agents, obs_dim)`` float32."""

    def state(self) -> np.ndarray:
        """Global state, ``(n_envs, state_dim)`` float32."""

    def avail_actions(self) -> np.ndarray:
        """Available actions, ``(n_envs, n_agents, n_actions)`` bool."""

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """Apply ``actions`` ``(n_envs, n_agents)``; return ``(reward, terminated, info)``."""


def check_n_envs(n_envs) -> int:
    """Validate a number of env copies: an integer >= 1."""
    try:
        value = int(n_envs)
    except (TypeError, ValueError):
        raise SettingsError(f"n_envs must be a positive integer, got {n_envs!r}") from None
    if value < 1 or value != n_envs:
        raise SettingsError(f"n_envs must be a positive integer, got {n_envs!r}")
    return value


def check_actions(actions, avail: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Validate a joint action batch against the availability mask.

    Parameters
    ----------
    actions : array_like, shape (E, n)
        Integer actions.
    avail : ndarray of bool, shape (E, n, A)
        Availability mask at the current step.
    active : ndarray of bool, shape (E,)
        Copies whose episode is still running; done copies are not checked.

    Returns
    -------
    ndarray of int64, shape (E, n)

    Raises
    ------
    SettingsError
        Wrong shape, non-integer values, or an unavailable action in an active copy.

    Examples
    --------
    >>> avail = np.array([[[True, False], [True, True]]])
    >>> check_actions([[0, 1]], avail, np.array([True])).tolist()
    [[0, 1]]
    """
    arr = np.asarray(actions)
    if arr.shape != avail.shape[:2]:
        raise SettingsError(f"actions must have shape {avail.shape[:2]}, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise SettingsError(f"actions must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    n_actions = avail.shape[2]
    in_range = (arr >= 0) & (arr < n_actions)
    ok = np.zeros(arr.shape, dtype=bool)
    e, i = np.nonzero(in_range)
    ok[e, i] = avail[e, i, arr[e, i]]
    bad = np.argwhere(~ok & active[:, None])
    if bad.size:
        e, i = (int(x) for x in bad[0])
        raise SettingsError(
            f"action {int(arr[e, i])} is not available to agent {i} in env copy {e} "
            f"(available: {np.flatnonzero(avail[e, i]).tolist()})"
        )
    return arr
