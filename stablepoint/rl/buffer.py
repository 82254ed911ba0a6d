"""Padded episode batches and the episode replay buffer.

Layout (PyMARL's): every per-step field has shape ``(B, T + 1, ...)`` with
``T = episode_limit``.  For an episode of length ``L`` (steps actually taken):

* ``obs``, ``state``, ``avail_actions`` at ``t = 0 .. L`` are what the env
  showed before step ``t``; index ``L`` is the observation after the last step
  (what a TD target bootstraps from);
* ``actions``, ``reward``, ``terminated``, ``filled`` and every extra field at
  ``t = 0 .. L - 1`` belong to step ``t``; ``filled[t]`` is True exactly there;
* ``terminated[L - 1]`` is True for a true termination and False when the
  episode hit the time limit (bootstrap continues);
* everything later is padding: zeros, except ``avail_actions`` padding rows,
  which are all True so a max over available actions stays finite (mask with
  ``filled``).

:class:`EpisodeBatch` holds such arrays (numpy; :meth:`EpisodeBatch.to_torch`
moves them to a device).  :class:`EpisodeBuffer` is a ring buffer of episodes
with uniform sampling without replacement; samples are trimmed to the longest
episode they contain.

Standard fields and dtypes (``E`` episodes, ``n`` agents, ``A`` actions):

=================  ===============================  =======
``obs``            ``(E, T+1, n, obs_dim)``         float32
``state``          ``(E, T+1, state_dim)``          float32
``avail_actions``  ``(E, T+1, n, A)``               bool
``actions``        ``(E, T+1, n)``                  int64
``reward``         ``(E, T+1)``                     float32
``terminated``     ``(E, T+1)``                     bool
``filled``         ``(E, T+1)``                     bool
=================  ===============================  =======

Extra fields (e.g. MRVF's per-round greedy actions) are declared with a
per-step shape and dtype and stored as ``(E, T+1, *shape)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.rl.envs.base import EnvInfo

__all__ = ["EpisodeBatch", "EpisodeBuffer", "standard_scheme", "STANDARD_FIELDS"]

#: the fields every episode batch carries.
STANDARD_FIELDS = ("obs", "state", "avail_actions", "actions", "reward", "terminated", "filled")


def standard_scheme(info: EnvInfo) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Per-step shape and dtype of every standard field for an env.

    >>> standard_scheme(EnvInfo(2, 3, 2, 1, 1))["avail_actions"]
    ((2, 3), dtype('bool'))
    """
    n, a = info.n_agents, info.n_actions
    return {
        "obs": ((n, info.obs_dim), np.dtype(np.float32)),
        "state": ((info.state_dim,), np.dtype(np.float32)),
        "avail_actions": ((n, a), np.dtype(bool)),
        "actions": ((n,), np.dtype(np.int64)),
        "reward": ((), np.dtype(np.float32)),
        "terminated": ((), np.dtype(bool)),
        "filled": ((), np.dtype(bool)),
    }


def _empty(scheme, batch_size: int, max_seq_length: int) -> dict[str, np.ndarray]:
    data = {}
    for key, (shape, dtype) in scheme.items():
        # np.zeros maps untouched pages lazily, so a large, mostly empty buffer costs little memory
        data[key] = np.zeros((batch_size, max_seq_length) + tuple(shape), dtype=dtype)
    data["avail_actions"][...] = True
    return data


@dataclass(frozen=True)
class EpisodeBatch:
    """A batch of padded episodes (layout in the module docstring).

    Attributes
    ----------
    data : mapping of str to ndarray
        Field name -> array of shape ``(B, T + 1, ...)``.
    lengths : ndarray of int64, shape (B,)
        Steps actually taken in each episode (``filled.sum(1)``).

    Examples
    --------
    >>> from stablepoint.rl.envs.base import EnvInfo
    >>> batch = EpisodeBatch.empty(EnvInfo(2, 3, 2, 1, 5), batch_size=4)
    >>> batch["obs"].shape, batch.max_seq_length, batch.batch_size
    ((4, 6, 2, 2), 6, 4)
    """

    data: Mapping[str, np.ndarray]
    lengths: np.ndarray

    @classmethod
    def empty(cls, info: EnvInfo, batch_size: int, extras: Mapping[str, tuple] | None = None) -> "EpisodeBatch":
        """An all-padding batch of ``batch_size`` episodes with room for ``info.episode_limit`` steps."""
        scheme = {**standard_scheme(info), **_normalize_extras(extras)}
        data = _empty(scheme, batch_size, info.episode_limit + 1)
        return cls(data, np.zeros(batch_size, dtype=np.int64))

    def __getitem__(self, key: str) -> np.ndarray:
        return self.data[key]

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self):
        return self.data.keys()

    @property
    def batch_size(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def max_seq_length(self) -> int:
        """The time dimension ``T + 1`` of the arrays."""
        return int(self.data["filled"].shape[1])

    @property
    def extra_keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.data if k not in STANDARD_FIELDS)

    def trimmed(self) -> "EpisodeBatch":
        """The same episodes cut to ``max(lengths) + 1`` time steps (no data lost)."""
        t = min(int(self.lengths.max(initial=0)) + 1, self.max_seq_length)
        return EpisodeBatch({k: v[:, :t] for k, v in self.data.items()}, self.lengths)

    def to_torch(self, device="cpu") -> dict[str, Any]:
        """Every field as a torch tensor on ``device`` (dtypes kept: float32, int64, bool)."""
        import torch

        return {k: torch.as_tensor(np.ascontiguousarray(v)).to(device) for k, v in self.data.items()}


def _normalize_extras(extras) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    out = {}
    for key, spec in dict(extras or {}).items():
        if key in STANDARD_FIELDS:
            raise SettingsError(f"extra field {key!r} clashes with a standard field")
        try:
            shape, dtype = spec
            out[str(key)] = (tuple(int(s) for s in shape), np.dtype(dtype))
        except (TypeError, ValueError):
            raise SettingsError(
                f"extra field {key!r} must be declared as (shape, dtype), got {spec!r}"
            ) from None
    return out


class EpisodeBuffer:
    """Ring buffer of padded episodes with uniform sampling.

    Parameters
    ----------
    capacity : int
        Episodes kept; the oldest is overwritten first.
    info : EnvInfo
        Sizes of the env whose episodes are stored (time dimension
        ``info.episode_limit + 1``).
    extras : mapping of str to (shape, dtype), optional
        Extra per-step fields every inserted batch must carry, e.g.
        ``{"greedy": ((3, 8), np.int64)}`` for 3 rounds of 8 agents' actions.

    Examples
    --------
    >>> from stablepoint.rl.envs.base import EnvInfo
    >>> info = EnvInfo(n_agents=2, n_actions=3, obs_dim=2, state_dim=1, episode_limit=1)
    >>> buf = EpisodeBuffer(capacity=3, info=info)
    >>> batch = EpisodeBatch.empty(info, batch_size=2)
    >>> batch["filled"][:, 0] = True; batch.lengths[:] = 1
    >>> buf.insert(batch); buf.insert(batch)
    >>> len(buf), buf.can_sample(4), buf.can_sample(3)
    (3, False, True)
    >>> buf.sample(2, np.random.default_rng(0))["obs"].shape
    (2, 2, 2, 2)
    """

    def __init__(self, capacity: int = 5000, *, info: EnvInfo, extras: Mapping[str, tuple] | None = None):
        if int(capacity) < 1 or int(capacity) != capacity:
            raise SettingsError(f"buffer capacity must be a positive integer, got {capacity!r}")
        self.capacity = int(capacity)
        self.info = info
        self.max_seq_length = info.episode_limit + 1
        self.scheme = {**standard_scheme(info), **_normalize_extras(extras)}
        self._data = _empty(self.scheme, self.capacity, self.max_seq_length)
        self._lengths = np.zeros(self.capacity, dtype=np.int64)
        self._next = 0  # slot the next episode goes to
        self._size = 0
        self.episodes_inserted = 0

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"EpisodeBuffer({self._size}/{self.capacity} episodes, T+1={self.max_seq_length})"

    def can_sample(self, batch_size: int) -> bool:
        """Whether at least ``batch_size`` episodes are stored."""
        return self._size >= batch_size

    def _check(self, batch: EpisodeBatch) -> int:
        missing = set(self.scheme) - set(batch.keys())
        unknown = set(batch.keys()) - set(self.scheme)
        if missing or unknown:
            raise SettingsError(
                f"episode batch fields do not match the buffer: missing {sorted(missing)}, undeclared {sorted(unknown)}"
            )
        t = batch.max_seq_length
        if t > self.max_seq_length:
            raise SettingsError(f"episode batch has {t} time steps, the buffer holds at most {self.max_seq_length}")
        for key, (shape, _) in self.scheme.items():
            got = batch[key].shape
            if got != (batch.batch_size, t) + shape:
                raise SettingsError(f"field {key!r} has shape {got}, expected {(batch.batch_size, t) + shape}")
        return t

    def insert(self, batch: EpisodeBatch) -> None:
        """Store every episode of ``batch`` (shorter time dimensions are padded)."""
        t = self._check(batch)
        b = batch.batch_size
        if b == 0:
            return
        if b > self.capacity:  # only the newest episodes would survive anyway
            batch = EpisodeBatch({k: v[-self.capacity:] for k, v in batch.data.items()}, batch.lengths[-self.capacity:])
            b = self.capacity
        slots = (self._next + np.arange(b)) % self.capacity
        for key, arr in self._data.items():
            arr[slots, :t] = batch[key]
            if t < self.max_seq_length:
                arr[slots, t:] = key == "avail_actions"
        self._lengths[slots] = batch.lengths
        self._next = int((self._next + b) % self.capacity)
        self._size = min(self._size + b, self.capacity)
        self.episodes_inserted += b

    def sample(self, batch_size: int, rng: np.random.Generator) -> EpisodeBatch:
        """``batch_size`` distinct stored episodes drawn uniformly, trimmed to the longest one.

        Raises
        ------
        SettingsError
            Fewer than ``batch_size`` episodes are stored.
        """
        if not self.can_sample(batch_size):
            raise SettingsError(f"cannot sample {batch_size} episodes from a buffer holding {self._size}")
        idx = np.sort(rng.choice(self._size, size=batch_size, replace=False))
        t = min(int(self._lengths[idx].max(initial=0)) + 1, self.max_seq_length)
        data = {k: v[idx, :t] for k, v in self._data.items()}  # fancy indexing copies
        return EpisodeBatch(data, self._lengths[idx].copy())

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the buffer: the stored episodes (numpy) and counters."""
        n = self._size
        return {
            "capacity": self.capacity,
            "max_seq_length": self.max_seq_length,
            "scheme": {k: (shape, dtype.str) for k, (shape, dtype) in self.scheme.items()},
            "data": {k: v[:n].copy() for k, v in self._data.items()},
            "lengths": self._lengths[:n].copy(),
            "next": self._next,
            "size": self._size,
            "episodes_inserted": self.episodes_inserted,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`; the buffer must have the same capacity and fields."""
        scheme = {k: (tuple(s), np.dtype(d)) for k, (s, d) in state["scheme"].items()}
        if (
            int(state["capacity"]) != self.capacity
            or int(state["max_seq_length"]) != self.max_seq_length
            or scheme != self.scheme
        ):
            raise SettingsError("buffer state does not match this buffer's capacity or fields")
        n = int(state["size"])
        for key, arr in self._data.items():
            arr[:n] = state["data"][key]
            arr[n:] = key == "avail_actions"
        self._lengths[:] = 0
        self._lengths[:n] = state["lengths"]
        self._next = int(state["next"])
        self._size = n
        self.episodes_inserted = int(state["episodes_inserted"])
