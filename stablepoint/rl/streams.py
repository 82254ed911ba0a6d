"""Counter-based random streams: uniform numbers as a hash of (key, counter, index).

A population trains P learners in lockstep and every member needs its own random stream
(its run must not depend on which other members share the process), yet drawing from P
generator objects one after another costs P calls per draw.  A counter-based generator
needs no state but a counter: the numbers of member p at draw c are a fixed function of
``(key_p, c, index)``, computed for all members in one vectorized call.  The state to
checkpoint is the counter.

The function is SplitMix64's finalizer (Steele, Lea and Flood 2014) applied to a Weyl
sequence of the three inputs, in wrapping int64 arithmetic; the top 24 bits become a
float32 in [0, 1).

>>> keys = stream_keys([0, 1], tag=7)
>>> u = uniform(keys, 3, (2, 4))
>>> u.shape, bool(((u >= 0) & (u < 1)).all())
(torch.Size([2, 2, 4]), True)
>>> torch.equal(uniform(keys[1:], 3, (2, 4))[0], u[1])  # member 1's numbers do not depend on member 0
True
"""

from __future__ import annotations

import torch

__all__ = ["stream_keys", "uniform", "mix64"]

# SplitMix64 constants as signed int64 (the same bit patterns).
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15
_M1 = -4658895280553007687  # 0xBF58476D1CE4E5B9
_M2 = -7723592293110705685  # 0x94D049BB133111EB
_COUNTER = 0x632BE59BD9B4E019


def _wrap(x: int) -> int:
    """A Python int as the int64 with the same low 64 bits."""
    return (x + 2**63) % 2**64 - 2**63


def _srl(z: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's ``>>`` is arithmetic)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def mix64(z: torch.Tensor) -> torch.Tensor:
    """SplitMix64's bijective finalizer on int64 tensors (wrapping arithmetic)."""
    z = (z ^ _srl(z, 30)) * _M1
    z = (z ^ _srl(z, 27)) * _M2
    return z ^ _srl(z, 31)


def stream_keys(seeds, tag: int, device=None) -> torch.Tensor:
    """One int64 key per seed for the stream named by ``tag`` (acting, sampling, ...)."""
    s = torch.as_tensor(list(seeds), dtype=torch.int64, device=device)
    return mix64(mix64(s * _GOLDEN + int(tag)) + _GOLDEN)


def uniform(keys: torch.Tensor, counter: int, shape, sub: int = 0) -> torch.Tensor:
    """Uniform [0, 1) float32 numbers ``(len(keys), *shape)``: draw ``counter`` of each key's stream.

    ``sub`` selects an independent sub-draw of the same counter (for retries that must not
    move the counter).
    """
    shape = tuple(int(s) for s in shape)
    n = 1
    for s in shape:
        n *= s
    index = torch.arange(n, dtype=torch.int64, device=keys.device)
    base = mix64(keys + _wrap(int(counter) * _COUNTER + int(sub) * _GOLDEN))
    z = mix64(base.unsqueeze(1) + index * _GOLDEN)
    return (_srl(z, 40).to(torch.float32) * (1.0 / 2**24)).view(keys.shape[0], *shape)
