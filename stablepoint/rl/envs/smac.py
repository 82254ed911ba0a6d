"""Real SMAC (StarCraft II) behind the batched env interface.

:class:`SMACEnv` holds ``n_envs`` ``smac.env.StarCraft2Env`` instances (one
StarCraft II process each) and presents them as one
:class:`~stablepoint.rl.envs.base.VecEnv`.  The ``smac`` package is imported
only when an env is built, and both it and a StarCraft II installation
(``SC2PATH``, default ``~/StarCraftII``) are needed; when either is missing the
constructor raises a one-line :class:`~stablepoint.errors.SettingsError` naming
it.  StarCraft II cannot be installed on the CI machines, so the adapter's own
logic is tested against a fake object with the same methods; runs on real SMAC
need SC2 (see docs/guide/smac-smax.md).

What the adapter does, and does not do:

* observations, state and available actions are read from every copy with
  ``get_obs()``, ``get_state()`` and ``get_avail_actions()`` and stacked into
  ``(E, n, obs_dim)``, ``(E, state_dim)`` and ``(E, n, A)`` arrays;
* a copy whose episode ended is never stepped again until :meth:`reset`
  (StarCraft2Env must be reset after an episode); it reports reward 0 and its
  last observation, state and availability;
* ``terminated`` is true termination only: SMAC's own ``terminated`` is also
  true at the time limit, with ``info["episode_limit"]`` set, which our runner
  handles through ``episode_limit`` instead;
* rewards are passed through unchanged.  Their sign is decided inside
  StarCraft2Env by ``reward_only_positive``: PyMARL's default (True) takes
  absolute values of the damage/kill deltas, which lets agents farm reward
  from units that regenerate shields; MRVF (Appendix E.3) uses the signed
  reward, so this adapter's default is ``reward_only_positive=False``;
* step info ``battle_won`` (0/1 per copy) is summed by the runner, so the
  evaluation mean ``test/battle_won_mean`` is the win rate.

The tests drive the adapter with a scripted stand-in for StarCraft2Env
(``tests/_fake_sc2.py``), passed as ``env_factory``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.rl.envs.base import EnvInfo, check_actions, check_n_envs

__all__ = ["SMACEnv", "smac_factory", "parse_smac_spec", "make"]


def sc2_path() -> Path:
    """Where ``smac`` looks for StarCraft II: ``$SC2PATH``, else ``~/StarCraftII``."""
    return Path(os.environ.get("SC2PATH") or Path.home() / "StarCraftII")


def smac_factory() -> Callable[..., Any]:
    """``smac.env.StarCraft2Env``, after checking that smac and StarCraft II are installed.

    Raises
    ------
    SettingsError
        One line naming what is missing: the ``smac`` package or the StarCraft II directory.
    """
    try:
        from smac.env import StarCraft2Env
    except ImportError:
        raise SettingsError(
            "real SMAC needs the 'smac' package (pip install git+https://github.com/oxwhirl/smac.git) "
            "and StarCraft II; for a CPU stand-in use smax:<map> (pip install .[smax])"
        ) from None
    path = sc2_path()
    if not path.is_dir():
        raise SettingsError(
            f"real SMAC needs StarCraft II: SC2PATH={path} is not a directory "
            "(install SC2 4.10 and the SMAC maps, then set SC2PATH)"
        )
    return StarCraft2Env


def parse_smac_spec(args: str) -> dict[str, Any]:
    """``"3m"`` or ``"3m,reward_only_positive=true"`` or ``"map_name=3m"`` -> keyword options.

    >>> parse_smac_spec("3s_vs_5z,reward_only_positive=true")
    {'map_name': '3s_vs_5z', 'reward_only_positive': True}
    """
    from stablepoint.rl.envs import parse_options

    head, _, rest = args.partition(",")
    if head and "=" not in head:
        return {"map_name": head.strip(), **parse_options(rest)}
    return parse_options(args)


def make(args: str, n_envs: int, seed: int, **kwargs) -> "SMACEnv":
    """Registry builder for ``smac:<map>[,key=value...]`` (see :func:`parse_smac_spec`)."""
    options = {**parse_smac_spec(args), **kwargs}
    if "map_name" not in options:
        raise SettingsError("smac env needs a map name, e.g. smac:3m")
    return SMACEnv(n_envs=n_envs, seed=seed, **options)


class SMACEnv:
    """``n_envs`` StarCraft2Env instances stepped in lockstep (see the module docstring).

    Parameters
    ----------
    map_name : str
        SMAC map, e.g. ``"3m"``, ``"3s_vs_5z"``.
    n_envs : int
        Number of StarCraft II instances.
    seed : int
        Copy ``e`` is created with seed ``seed + e``.
    reward_only_positive : bool
        Forwarded to StarCraft2Env; False (MRVF E.3) keeps the reward's sign.
    env_factory : callable, optional
        ``env_factory(map_name=..., seed=..., reward_only_positive=..., **smac_options)``
        returning an object with StarCraft2Env's methods; default :func:`smac_factory`.
    **smac_options
        Other StarCraft2Env keyword arguments (``difficulty``, ``reward_scale`` ...).
    """

    def __init__(
        self,
        map_name: str,
        n_envs: int = 1,
        seed: int = 0,
        *,
        reward_only_positive: bool = False,
        env_factory: Callable[..., Any] | None = None,
        **smac_options,
    ):
        if not isinstance(map_name, str) or not map_name:
            raise SettingsError("smac env needs a map name, e.g. smac:3m")
        if not isinstance(reward_only_positive, bool):
            raise SettingsError(f"reward_only_positive must be true or false, got {reward_only_positive!r}")
        self.n_envs = check_n_envs(n_envs)
        factory = env_factory if env_factory is not None else smac_factory()
        seed = 0 if seed is None else int(seed)
        self.options = {
            "map_name": map_name,
            "reward_only_positive": reward_only_positive,
            "backend": "smac",
            **smac_options,
        }
        self._envs = [
            factory(map_name=map_name, seed=seed + e, reward_only_positive=reward_only_positive, **smac_options)
            for e in range(self.n_envs)
        ]
        raw = self._envs[0].get_env_info()
        try:
            self.info = EnvInfo(
                n_agents=int(raw["n_agents"]),
                n_actions=int(raw["n_actions"]),
                obs_dim=int(raw["obs_shape"]),
                state_dim=int(raw["state_shape"]),
                episode_limit=int(raw["episode_limit"]),
            )
        except KeyError as exc:
            raise SettingsError(f"StarCraft2Env.get_env_info() lacks {exc.args[0]!r}") from None
        n, A = self.info.n_agents, self.info.n_actions
        self._obs = np.zeros((self.n_envs, n, self.info.obs_dim), dtype=np.float32)
        self._state = np.zeros((self.n_envs, self.info.state_dim), dtype=np.float32)
        self._avail = np.zeros((self.n_envs, n, A), dtype=bool)
        self._avail[..., 0] = True  # before the first reset: no-op only, never an empty row
        self._done = np.ones(self.n_envs, dtype=bool)

    def __repr__(self) -> str:
        return f"SMACEnv({self.options['map_name']!r}, n_envs={self.n_envs})"

    def _read(self, e: int) -> None:
        env, n = self._envs[e], self.info.n_agents
        obs = np.asarray(env.get_obs(), dtype=np.float32).reshape(n, self.info.obs_dim)
        self._obs[e] = obs
        self._state[e] = np.asarray(env.get_state(), dtype=np.float32).reshape(self.info.state_dim)
        avail = np.asarray(env.get_avail_actions()).reshape(n, self.info.n_actions).astype(bool)
        if not avail.any(axis=-1).all():
            raise SettingsError(f"StarCraft2Env copy {e} reported an agent with no available action")
        self._avail[e] = avail

    def reset(self, seed: int | None = None) -> None:
        """Reset every StarCraft II instance; ``seed`` is ignored (SC2 is seeded at launch only)."""
        for e, env in enumerate(self._envs):
            env.reset()
            self._read(e)
        self._done[:] = False

    def state_dict(self) -> dict:
        """Nothing restorable: the game's randomness lives in the StarCraft II process."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Accept :meth:`state_dict` output (nothing to restore)."""

    def obs(self) -> np.ndarray:
        """Per-agent observations, ``(n_envs, n_agents, obs_dim)`` float32."""
        return self._obs.copy()

    def state(self) -> np.ndarray:
        """Global state, ``(n_envs, state_dim)`` float32."""
        return self._state.copy()

    def avail_actions(self) -> np.ndarray:
        """Available actions, ``(n_envs, n_agents, n_actions)`` bool (dead units: no-op only)."""
        return self._avail.copy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """Step the copies still running; reward as StarCraft2Env returns it (no abs, no clip)."""
        active = ~self._done
        acts = check_actions(actions, self._avail, active)
        reward = np.zeros(self.n_envs, dtype=np.float32)
        terminated = self._done.copy()
        won = np.zeros(self.n_envs, dtype=np.int64)
        for e in np.flatnonzero(active):
            r, term, info = self._envs[e].step(acts[e].tolist())
            info = info or {}
            reward[e] = r
            won[e] = int(bool(info.get("battle_won", False)))
            if term:
                self._done[e] = True
                # a time-limit stop is not a termination; the runner cuts at episode_limit
                terminated[e] = not info.get("episode_limit", False)
            else:
                self._read(e)
        return reward, terminated, {"battle_won": won}

    def close(self) -> None:
        """Shut down every StarCraft II instance."""
        for env in self._envs:
            env.close()
