"""Stacked networks: P copies of one module with a leading member axis, for population training.

:func:`stack_modules` takes P modules of one architecture (the members' own networks, built
and initialised exactly as a single learner builds them) and returns one module of the same
class whose every :class:`torch.nn.Linear` is a :class:`StackedLinear` and every
:class:`stablepoint.rl.agents.GRUCell` a :class:`StackedGRUCell`, holding the P weights as
``(P, ...)`` tensors.  The module's own ``forward`` is unchanged: the learner's mixers and
agents are written over arbitrary leading axes, so the same code computes all P members at
once when the leading axis of its inputs is the member (size P, or 1 when the input is shared,
as the constant state of a one-step game is).  :func:`member_state_dict` reads member p back
in the single module's state-dict layout, and :func:`load_member_state_dicts` writes P of them.

>>> import torch
>>> from torch import nn
>>> nets = [nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)) for _ in range(5)]
>>> pop = stack_modules(nets)
>>> x = torch.randn(5, 7, 3)
>>> torch.allclose(pop(x)[2], nets[2](x[2]), atol=1e-6)
True
>>> sorted(member_state_dict(pop, 2)) == sorted(nets[2].state_dict())
True
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from stablepoint.errors import SettingsError
from stablepoint.rl.agents import GRUCell

__all__ = ["StackedLinear", "StackedGRUCell", "stack_modules", "member_state_dict", "load_member_state_dicts", "n_members"]


def _by_member(x: torch.Tensor, P: int) -> tuple[torch.Tensor, torch.Size]:
    """``x (1 or P, ..., D)`` -> ``(P, M, D)`` and the leading shape ``(P, ...)`` of the result."""
    if x.dim() < 2 or x.shape[0] not in (1, P):
        raise SettingsError(f"a stacked layer of {P} members needs a leading member axis of 1 or {P}; got {tuple(x.shape)}")
    x = x.expand(P, *x.shape[1:])
    return x.reshape(P, -1, x.shape[-1]), x.shape[:-1]


class _Transposed(nn.Module):
    """Weights held as ``(P, in, out)`` (what ``bmm`` reads, so gradients arrive in that layout
    with no copy) but saved and loaded as ``(P, out, in)``, the stacked ``nn.Linear`` layout.

    Parameters so held carry ``member_transposed = True`` (the optimizer-state mapping of
    :class:`stablepoint.rl.population.PopulationLearner` reads it).
    """

    _transposed: tuple[str, ...] = ()

    def _mark(self) -> None:
        for name in self._transposed:
            getattr(self, name).member_transposed = True

    def _save_to_state_dict(self, destination, prefix, keep_vars):  # noqa: D102
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for name in self._transposed:
            destination[prefix + name] = destination[prefix + name].transpose(1, 2)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: D102
        for name in self._transposed:
            if prefix + name in state_dict:
                state_dict[prefix + name] = state_dict[prefix + name].transpose(1, 2)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class StackedLinear(_Transposed):
    """P linear layers (``weight`` P x (out, in) as saved, ``bias (P, out)``): ``(P|1, ..., in) -> (P, ..., out)``."""

    _transposed = ("weight",)

    def __init__(self, weight_t: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.weight = nn.Parameter(weight_t)  # (P, in, out)
        self.bias = None if bias is None else nn.Parameter(bias)
        self._mark()

    @classmethod
    def stack(cls, layers: list[nn.Linear]) -> "StackedLinear":
        weight = torch.stack([m.weight.detach().t() for m in layers]).contiguous()
        bias = None if layers[0].bias is None else torch.stack([m.bias.detach() for m in layers]).clone()
        out = cls(weight, bias)
        out.requires_grad_(layers[0].weight.requires_grad)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        flat, lead = _by_member(x, self.weight.shape[0])
        w = self.weight
        y = torch.bmm(flat, w) if self.bias is None else torch.baddbmm(self.bias.unsqueeze(1), flat, w)
        return y.view(*lead, w.shape[2])


class StackedGRUCell(_Transposed):
    """P GRU cells with :class:`torch.nn.GRUCell`'s parameters and equations (gates r, z, n).

    ``hidden=None`` is the zero state: the hidden-to-hidden product is then skipped (it is
    zero), so ``weight_hh`` gets no gradient from that step, where a plain cell gives it a
    zero one; the parameters move the same either way.
    """

    _transposed = ("weight_ih", "weight_hh")

    def __init__(self, weight_ih_t, weight_hh_t, bias_ih, bias_hh):
        super().__init__()
        self.weight_ih, self.weight_hh = nn.Parameter(weight_ih_t), nn.Parameter(weight_hh_t)  # (P, in, 3H)
        self.bias_ih, self.bias_hh = nn.Parameter(bias_ih), nn.Parameter(bias_hh)
        self.hidden_size = weight_hh_t.shape[1]
        self._mark()

    @classmethod
    def stack(cls, cells: list[nn.GRUCell]) -> "StackedGRUCell":
        if cells[0].bias_ih is None:
            raise SettingsError("stacking a GRU cell without biases is not supported")
        weights = [torch.stack([getattr(c, name).detach().t() for c in cells]).contiguous()
                   for name in ("weight_ih", "weight_hh")]
        biases = [torch.stack([getattr(c, name).detach() for c in cells]).clone() for name in ("bias_ih", "bias_hh")]
        out = cls(*weights, *biases)
        out.requires_grad_(cells[0].weight_ih.requires_grad)
        return out

    def forward(self, inputs: torch.Tensor, hidden: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        P = self.weight_ih.shape[0]
        if hidden is None:
            x, shape = _by_member(inputs, P)
            gh = self.bias_hh.unsqueeze(1)
        else:
            lead = torch.broadcast_shapes(inputs.shape[:-1], hidden.shape[:-1])
            x, _ = _by_member(inputs.expand(*lead, inputs.shape[-1]), P)
            h, shape = _by_member(hidden.expand(*lead, hidden.shape[-1]), P)
            gh = torch.baddbmm(self.bias_hh.unsqueeze(1), h, self.weight_hh)
        gi = torch.baddbmm(self.bias_ih.unsqueeze(1), x, self.weight_ih)
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        out = (1.0 - z) * n if hidden is None else (1.0 - z) * n + z * h
        return out.reshape(*shape, self.hidden_size)


#: single layer class -> its stacked counterpart
_STACKABLE = {nn.Linear: StackedLinear, GRUCell: StackedGRUCell}


def stack_modules(modules: list[nn.Module]) -> nn.Module:
    """One module computing all of ``modules`` (same architecture) along a leading member axis.

    Raises
    ------
    SettingsError
        A submodule holds parameters but is neither a Linear layer nor a GRU cell (it could
        not be stacked faithfully), or the modules differ in structure.
    """
    if not modules:
        raise SettingsError("stack_modules needs at least one module")
    out = copy.deepcopy(modules[0])
    names = [name for name, _ in out.named_modules()]
    per_member = [dict(m.named_modules()) for m in modules]
    if any(list(d) != names for d in per_member):
        raise SettingsError("stack_modules: the modules differ in structure")
    for name in names:
        sub = per_member[0][name]
        kind = type(sub)
        if kind in _STACKABLE:
            stacked = _STACKABLE[kind].stack([d[name] for d in per_member])
            if name:
                parent_name, _, child = name.rpartition(".")
                parent = out.get_submodule(parent_name) if parent_name else out
                setattr(parent, child, stacked)
            else:
                out = stacked
        elif any(True for _ in sub.parameters(recurse=False)) and not _inside_stackable(name, per_member[0]):
            raise SettingsError(f"cannot stack {name or 'the module'} ({kind.__name__}): only Linear and GRU cells")
    return out


def _inside_stackable(name: str, modules: dict) -> bool:
    parts = name.split(".")
    return any(type(modules.get(".".join(parts[:i]))) in _STACKABLE for i in range(1, len(parts)))


def n_members(module: nn.Module) -> int:
    """P of a stacked module (the leading size of its parameters)."""
    return next(module.parameters()).shape[0]


def member_state_dict(module: nn.Module, p: int) -> dict:
    """Member ``p`` of a stacked module in the single module's state-dict layout (copies)."""
    return {k: v[p].detach().clone() for k, v in module.state_dict().items()}


def load_member_state_dicts(module: nn.Module, states: list[dict]) -> None:
    """Load P single-module state dicts into a stacked module, member by member."""
    stacked = {k: torch.stack([s[k] for s in states]) for k in module.state_dict()}
    module.load_state_dict(stacked)
