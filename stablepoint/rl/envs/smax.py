"""JaxMARL's SMAX as a CPU stand-in for SMAC, many copies stepped at once with ``jax.vmap``.

Spec ``smax:<map>`` (SMAC map names: ``3m``, ``2s3z``, ``3s5z``, ``5m_vs_6m``, ``3s_vs_5z``,
``6h_vs_8z``, ``3s5z_vs_3s6z``, ``8m``, ``25m``, ...), with options
``smax:3m,jax_threads=1,attack_mode=closest``.  Needs the optional extra
``pip install .[smax]`` (jaxmarl, jax); JAX is imported when the first env is built.

The allies are our agents; the enemies follow JaxMARL's heuristic policy
(``HeuristicEnemySMAX``: each enemy attacks the closest, or a random, visible ally
and otherwise moves toward them).  All ``n_envs`` copies live in one batched JAX
state; one jitted, vmapped call advances every running copy and returns the next
observations, state, available actions, team reward and termination, so a step
costs one dispatch however many copies there are.  Copies that are done keep their
state (``jnp.where`` on the active mask), as the interface requires.

Where SMAX differs from SMAC (results on it are SMAX results, never SMAC results):

* **Simulator**: a simplified 2-D re-implementation in JAX, not StarCraft II: no
  terrain or pathing, no unit abilities, shields or regeneration; unit stats are
  approximations of the SC2 ones; ``8`` world steps per env step.
* **Features**: observations are JaxMARL's unit lists (health, relative position,
  previous actions, unit type, ...) and the state is its world state (positions and
  type codes scaled to [0, 1] by default, ``normalize_state``); sizes and meanings
  differ from SMAC's ``get_obs`` / ``get_state`` vectors.
* **Actions**: 4 moves, stop, then one attack per enemy (SMAC has no-op first and a
  separate stop; a dead SMAX unit has only "stop").
* **Reward scale**: enemy health lost (as a fraction of the enemy team's total,
  at most 1 per episode) plus 1 for a win: a perfect episode returns about 2, where
  SMAC's normalized reward reaches 20.  Health never regenerates in SMAX, so its
  absolute value matches the signed reward MRVF Appendix E.3 asks for.
* **Episode limit**: 100 env steps on every map (SMAC's limits vary by map, 60 to 400).
* **Enemy AI**: the scripted heuristic above, not SC2's built-in AI at difficulty 7.

Step info ``battle_won`` (0/1 per copy) makes ``test/battle_won_mean`` the win rate.
Threads: JAX's CPU backend reads ``XLA_FLAGS`` once, when jax is first imported;
``jax_threads=1`` (the default) makes XLA single-threaded so that JAX and torch do
not fight over the machine's cores (see ``benchmarks/bench_smax.py``).  It only
takes effect if this module is the first to import jax in the process.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Any

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.rl.envs.base import EnvInfo, check_actions, check_n_envs

__all__ = ["SMAXEnv", "make", "smax_maps", "configure_jax_threads"]

#: XLA flags that make the CPU backend single-threaded
SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def configure_jax_threads(jax_threads: int | None) -> bool:
    """Set ``XLA_FLAGS`` for ``jax_threads`` (1: single-threaded; None/0: XLA's default).

    Returns True when the setting can still take effect (jax not yet imported).
    """
    if jax_threads is None or jax_threads == 0:
        return "jax" not in sys.modules
    if jax_threads != 1:
        raise SettingsError(f"jax_threads must be 1 (single-threaded) or 0 (XLA default), got {jax_threads!r}")
    if "jax" in sys.modules:
        return False
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = (flags + " " + SINGLE_THREAD_FLAGS).strip()
    return True


@contextlib.contextmanager
def _quiet_stdout():
    """Silence stdout at the file-descriptor level (jaxmarl prints on import, bypassing sys.stdout)."""
    saved_obj = sys.stdout
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else None
    except (AttributeError, OSError, io.UnsupportedOperation):
        fd = None
    if fd is None:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
        return
    for stream in (sys.stdout, sys.__stdout__):
        with contextlib.suppress(Exception):
            stream.flush()
    saved_fd = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        with contextlib.suppress(Exception):
            sys.__stdout__.flush()
        os.dup2(saved_fd, fd)
        os.close(saved_fd)
        os.close(devnull)
        sys.stdout = saved_obj


def _import_smax():
    try:
        import jax  # noqa: F401

        if "jaxmarl.environments.smax" not in sys.modules:
            with _quiet_stdout():  # library code never prints
                import jaxmarl.environments.smax  # noqa: F401
        from jaxmarl.environments.smax import HeuristicEnemySMAX, map_name_to_scenario
        from jaxmarl.environments.smax.smax_env import MAP_NAME_TO_SCENARIO
    except ImportError as exc:
        raise SettingsError(
            f"the smax env needs jaxmarl and jax (pip install .[smax]); import failed: {exc}"
        ) from None
    return HeuristicEnemySMAX, map_name_to_scenario, MAP_NAME_TO_SCENARIO


def smax_maps() -> list[str]:
    """Map names SMAX knows (needs the smax extra)."""
    return sorted(_import_smax()[2])


def make(args: str, n_envs: int, seed: int, **kwargs) -> "SMAXEnv":
    """Registry builder for ``smax:<map>[,key=value...]``."""
    from stablepoint.rl.envs.smac import parse_smac_spec

    options = {**parse_smac_spec(args), **kwargs}
    if "map_name" not in options:
        raise SettingsError("smax env needs a map name, e.g. smax:3m")
    return SMAXEnv(n_envs=n_envs, seed=seed, **options)


class SMAXEnv:
    """``n_envs`` SMAX copies with the heuristic enemy, vectorized (see the module docstring).

    Parameters
    ----------
    map_name : str
        A SMAC map name SMAX has (:func:`smax_maps`).
    n_envs : int
    seed : int
        Seed of the JAX random key (start positions, enemy choices).
    jax_threads : int
        1: single-threaded XLA (default); 0: XLA's default thread pool.
    attack_mode : {"closest", "random"}
        The heuristic enemy's target choice.
    normalize_state : bool
        Scale the world state's unit positions by the map size and its unit-type codes by
        the number of types, so every entry lies in [0, 1] as in SMAC's state (JaxMARL's raw
        state has positions up to 32, which inflates a hypernetwork mixer's initial outputs).
    reward_scale : float
        Multiplies the team reward (1: SMAX's own scale, at most about 2 per episode; 10
        brings it near SMAC's normalized scale of 20).
    **smax_options
        Other ``SMAX`` keyword arguments (``max_steps``, ``won_battle_bonus``, ...).
    """

    def __init__(self, map_name: str, n_envs: int = 1, seed: int = 0, *, jax_threads: int = 1,
                 attack_mode: str = "closest", normalize_state: bool = True, reward_scale: float = 1.0,
                 **smax_options):
        self.n_envs = check_n_envs(n_envs)
        self.threads_applied = configure_jax_threads(jax_threads)
        Heuristic, scenario_of, known = _import_smax()
        if map_name not in known:
            raise SettingsError(f"unknown SMAX map {map_name!r}; choose one of: {', '.join(sorted(known))}")
        if attack_mode not in ("closest", "random"):
            raise SettingsError(f"attack_mode must be closest or random, got {attack_mode!r}")
        import jax
        import jax.numpy as jnp

        self._jax, self._jnp = jax, jnp
        try:
            env = Heuristic(scenario=scenario_of(map_name), attack_mode=attack_mode, **smax_options)
        except TypeError as exc:
            raise SettingsError(f"smax:{map_name}: {exc}") from None
        self._env = env
        if not isinstance(reward_scale, (int, float)) or isinstance(reward_scale, bool) or not reward_scale > 0:
            raise SettingsError(f"reward_scale must be a positive number, got {reward_scale!r}")
        if not isinstance(normalize_state, bool):
            raise SettingsError(f"normalize_state must be true or false, got {normalize_state!r}")
        self.options = {"map_name": map_name, "backend": "smax (JaxMARL, heuristic enemy)",
                        "jax_threads": jax_threads, "attack_mode": attack_mode,
                        "normalize_state": normalize_state, "reward_scale": float(reward_scale), **smax_options}
        agents = list(env.agents)
        n = len(agents)
        self._seed = 0 if seed is None else int(seed)
        self._key = jax.random.PRNGKey(self._seed)

        # world state = per-unit [health, x, y, cooldown, type bits...], then teams, then type codes
        n_units, n_feat = env.num_allies + env.num_enemies, len(env.own_features)
        scale = np.ones(n_units * n_feat + 2 * n_units, dtype=np.float32)
        if normalize_state:
            per_unit = scale[: n_units * n_feat].reshape(n_units, n_feat)
            per_unit[:, 1] = 1.0 / env.map_width
            per_unit[:, 2] = 1.0 / env.map_height
            scale[n_units * n_feat + n_units:] = 1.0 / len(env.unit_type_names)
        scale = jnp.asarray(scale)

        def observe(state):
            inner = state.state
            obs = env.get_obs(state)
            avail = env.get_avail_actions(state)
            return (
                jnp.stack([obs[a] for a in agents]).astype(jnp.float32),
                env.get_world_state(state).astype(jnp.float32) * scale,
                jnp.stack([avail[a] for a in agents]).astype(bool),
                inner.unit_alive,
            )

        def reset_one(key):
            _, state = env.reset(key)
            return (state,) + observe(state)

        def step_one(key, state, actions, active):
            _, new, rewards, dones, _ = env.step_env(key, state, {a: actions[i] for i, a in enumerate(agents)})
            new = jax.tree.map(lambda x, y: jnp.where(active, x, y), new, state)
            obs, world, avail, alive = observe(new)
            allies_dead = ~alive[:n].any()
            enemies_dead = ~alive[n:].any()
            reward = jnp.where(active, rewards[agents[0]] * reward_scale, 0.0).astype(jnp.float32)
            won = active & enemies_dead & ~allies_dead
            return new, obs, world, avail, reward, allies_dead | enemies_dead, won

        self._reset_fn = jax.jit(jax.vmap(reset_one))
        self._step_fn = jax.jit(jax.vmap(step_one))
        probe = self._reset_fn(jax.random.split(self._key, self.n_envs))
        self.info = EnvInfo(
            n_agents=n,
            n_actions=int(env.action_space(agents[0]).n),
            obs_dim=int(probe[1].shape[-1]),
            state_dim=int(probe[2].shape[-1]),
            episode_limit=int(env.max_steps),
        )
        self._set(probe)
        self._done = np.ones(self.n_envs, dtype=bool)

    def __repr__(self) -> str:
        return f"SMAXEnv({self.options['map_name']!r}, n_envs={self.n_envs})"

    def _set(self, out) -> None:
        self._state = out[0]
        self._obs = np.asarray(out[1], dtype=np.float32)
        self._world = np.asarray(out[2], dtype=np.float32)
        self._avail = np.asarray(out[3], dtype=bool)

    def _split(self):
        self._key, sub = self._jax.random.split(self._key)
        return self._jax.random.split(sub, self.n_envs)

    def reset(self, seed: int | None = None) -> None:
        """New battles in every copy (start positions drawn from the env's key)."""
        if seed is not None:
            self._key = self._jax.random.PRNGKey(int(seed))
        self._set(self._reset_fn(self._split()))
        self._done[:] = False

    def state_dict(self) -> dict:
        """The JAX random key, so a resumed run continues the same stream of battles."""
        return {"key": np.asarray(self._key)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output."""
        self._key = self._jnp.asarray(np.asarray(state["key"], dtype=np.uint32))

    def obs(self) -> np.ndarray:
        """Ally observations, ``(n_envs, n_agents, obs_dim)`` float32."""
        return self._obs.copy()

    def state(self) -> np.ndarray:
        """JaxMARL world state, ``(n_envs, state_dim)`` float32."""
        return self._world.copy()

    def avail_actions(self) -> np.ndarray:
        """``(n_envs, n_agents, n_actions)`` bool; stop (index 4) is always available."""
        return self._avail.copy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Advance every running copy in one vectorized call; done copies are frozen."""
        active = ~self._done
        acts = check_actions(actions, self._avail, active)
        acts = np.where(active[:, None], acts, 4)  # done copies: a harmless "stop"
        new, obs, world, avail, reward, ended, won = self._step_fn(
            self._split(), self._state, self._jnp.asarray(acts, dtype=self._jnp.int32), self._jnp.asarray(active)
        )
        self._set((new, obs, world, avail))
        ended = np.asarray(ended) | self._done
        self._done = ended.copy()
        return np.asarray(reward, dtype=np.float32), ended, {"battle_won": np.asarray(won).astype(np.int64)}
