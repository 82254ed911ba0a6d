"""NA²Q (Liu, Zhu and Chen, ICML 2023): Q_tot as a neural generalized additive model of the utilities.

    Q_tot(s, u) = sum_k alpha_k(s, z) f_k(Q_k) + V(s),

where the terms k are every agent i (a unary shape function f_i(Q_i)) and every pair
i < j (a pairwise shape function f_ij(Q_i, Q_j)), the credits alpha_k >= 0 (summing to 1)
come from an attention of the state over the agents' identity semantics z_i, and V(s) is a
state bias.  Each shape function is a small MLP of its one or two utilities, the additive
form makes every term's contribution to Q_tot readable on its own (the paper's point).

What is the paper's (and its public code's, ``zichuan-liu/NA2Q``, ``qnam.py`` and
``qnam_learner.py``):

* the GAM of order 2: all unary and all pairwise terms (its ``mix_nary: [1, 2]``), each an MLP
  of hidden sizes (8, 4) with ELU activations, plus a state MLP for V(s);
* **monotonicity**: every shape-function weight goes through ``abs`` (the biases stay free),
  so with the nondecreasing ELU each f_k is nondecreasing in its inputs; the credits are
  nonnegative and do not read the utilities.  Hence dQ_tot/dQ_i = sum_k alpha_k df_k/dQ_i >= 0
  everywhere and the greedy utilities give the greedy joint action (IGM), as in QMIX;
* the credits: a softmax over the terms of scaled dot products between a state query and
  ReLU keys built from the identity semantics;
* the identity semantics: a VAE latent per agent whose decoder emits a sigmoid mask m_i over
  the reconstructed features x; its loss ``MSE(m_i * x, x) + KL(q(z_i) || N(0, I)) + mean|m_i|``
  is added to the TD loss with weight beta = 0.1 (:func:`na2q_aux`); the mixer reads the latent
  without gradient, so only the VAE loss trains the VAE, and the target mixer uses the target
  copy of the VAE.

Simplifications (all forced or suggested by the common mixer interface
``mixer(chosen_qs, state, ctx)`` and the population trainer's rules, see
:mod:`stablepoint.rl.mixers`):

1. **VAE input and target.**  The original encodes agent i's GRU hidden state h_i and
   reconstructs agent i's observation o_i, so its VAE loss also trains the agent network.
   A mixer here sees neither, so the VAE encodes ``(s, one-hot id_i)`` and reconstructs the
   mixer's state s: the mask m_i shows which state features agent i's semantics keep
   (:meth:`NA2QMixer.semantic_masks`), and the VAE loss trains the VAE only.
2. **Deterministic forward.**  The original mixer reads a sampled latent; here ``forward``
   reads the latent mean mu_i, and only :func:`na2q_aux` samples z_i = mu_i + sigma_i eps, with
   eps from the learner's stream ``ctx.learner.randn``.
3. **Keys.**  The original forms one key vector from all agents' latents concatenated and a
   (K x K) query matrix from the state.  Here each term has its own key, from the semantics of
   the agents it involves (mu_i for f_i, mu_i + mu_j for f_ij, through separate ``nn.Linear``
   for the two orders), scored against one state query.  Either way the credits are a softmax
   over the terms, so the monotonicity argument is unchanged.
4. **Smaller VAE, masked mean.**  One hidden layer in the encoder and the decoder (two in the
   original), log sigma clamped to [-5, 2], and the VAE loss averaged over filled steps only
   (the original averages over padded steps too).
5. **Optimizer and agents.**  The learner's single optimizer and shared agent network; the
   original used RMSprop for its agents (with extra per-agent heads) and Adam for mixer + VAE.
6. **How the weights are made nonnegative.**  The original overwrites the parameters with
   their absolute values on every forward; here ``abs`` is applied on the forward pass, as in
   :class:`~stablepoint.rl.mixers.QMixer`.  So that a population trainer can stack the mixer by
   swapping each ``nn.Linear`` for a batched one, the shape functions' (state-independent)
   parameters are the weight of an ``nn.Linear(1, N, bias=False)`` read at the input 1 (a
   hypernetwork of a constant), generated along the state's leading axes.

Without the ``na2q_vae`` auxiliary loss the VAE keeps its random initialization: the keys are
then fixed random features of (s, id_i), still trained through the key layers.

>>> import torch
>>> mix = NA2QMixer(n_agents=3, n_actions=4, state_dim=5)
>>> mix.terms
[(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
>>> tuple(mix(torch.zeros(7, 2, 3), torch.zeros(1, 2, 5), None).shape)
(7, 2)
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Callable

import torch
from torch import nn
from torch.nn import functional as F

from stablepoint.rl.agents import cat_features

if TYPE_CHECKING:  # the learner's Context; imported lazily to keep this module free of cycles
    from stablepoint.rl.learner import Context

__all__ = ["NA2QMixer", "na2q_aux", "VAE_BETA", "SHAPE_HIDDEN"]

#: Weight beta of the VAE loss (the original's ``beta_vae``).
VAE_BETA = 0.1
#: Hidden sizes of every shape function (the original's ``hidden_dims``).
SHAPE_HIDDEN = (8, 4)
#: Range of the VAE's log sigma.
_LOG_STD_RANGE = (-5.0, 2.0)


class _ShapeFunctions(nn.Module):
    """``n_terms`` independent monotone MLPs, each from ``order`` inputs to one output.

    Layer l of term k computes ``elu(|W_kl| h + b_kl)`` (no activation after the last layer),
    so every output is nondecreasing in every input.  Each layer's weights and biases for all
    terms are the weight column of one ``nn.Linear(1, ., bias=False)``, read at the input 1.
    """

    def __init__(self, n_terms: int, order: int, hidden=SHAPE_HIDDEN):
        super().__init__()
        self.n_terms = n_terms
        self.dims = [order, *hidden, 1]
        self.layers = nn.ModuleList()
        for fan_in, fan_out in zip(self.dims[:-1], self.dims[1:]):
            layer = nn.Linear(1, n_terms * (fan_out * fan_in + fan_out), bias=False)
            # the default initialization of a layer with this fan-in (weights then go through abs)
            nn.init.uniform_(layer.weight, -1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))
            self.layers.append(layer)

    def forward(self, x: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
        """``x (..., n_terms, order)`` -> ``(..., n_terms)``; parameters generated along ``anchor``'s
        leading axes (``anchor (..., d)``, broadcastable against ``x``'s)."""
        one = torch.ones_like(anchor[..., :1])
        h = x
        last = len(self.layers) - 1
        for i, (layer, fan_in, fan_out) in enumerate(zip(self.layers, self.dims[:-1], self.dims[1:])):
            p = layer(one)
            n_w = self.n_terms * fan_out * fan_in
            w = torch.abs(p[..., :n_w]).unflatten(-1, (self.n_terms, fan_out, fan_in))
            b = p[..., n_w:].unflatten(-1, (self.n_terms, fan_out))
            h = (w @ h.unsqueeze(-1)).squeeze(-1) + b
            if i < last:
                h = F.elu(h)
        return h.squeeze(-1)


class NA2QMixer(nn.Module):
    """NA²Q's monotone GAM mixer (module docstring): unary and pairwise shape functions of the
    utilities, weighted by attention credits over the state and the agents' identity semantics.

    Parameters
    ----------
    n_agents, n_actions, state_dim : int
        ``n_actions`` is unused (the mixer reads utilities only).
    mixing_embed : int
        Width of the VAE's hidden layers, its latent size, and V(s)'s hidden layer.
    hypernet_embed : int
        Size of the attention's queries and keys.
    shape_hidden : tuple of int
        Hidden sizes of every shape function.
    vae_beta : float
        Weight of the VAE loss in :func:`na2q_aux`.
    """

    def __init__(
        self, n_agents, n_actions, state_dim, mixing_embed=32, hypernet_embed=64, *,
        shape_hidden=SHAPE_HIDDEN, vae_beta=VAE_BETA,
    ):
        super().__init__()
        self.n_agents, self.state_dim, self.vae_beta = n_agents, state_dim, float(vae_beta)
        self.attn_dim = hypernet_embed
        pairs = list(itertools.combinations(range(n_agents), 2))
        self.terms = [(i,) for i in range(n_agents)] + pairs
        self.register_buffer("pairs", torch.tensor(pairs, dtype=torch.long).view(len(pairs), 2), persistent=False)
        # shape functions f_i(Q_i) and f_ij(Q_i, Q_j)
        self.unary = _ShapeFunctions(n_agents, 1, shape_hidden)
        self.pairwise = _ShapeFunctions(len(pairs), 2, shape_hidden) if pairs else None
        # identity semantics: a VAE over (s, one-hot id_i) that reconstructs s through a mask
        self.enc = nn.Linear(state_dim + n_agents, mixing_embed)
        self.enc_mean = nn.Linear(mixing_embed, mixing_embed)
        self.enc_log_std = nn.Linear(mixing_embed, mixing_embed)
        self.dec = nn.Sequential(nn.Linear(mixing_embed, mixing_embed), nn.ReLU(), nn.Linear(mixing_embed, state_dim))
        # credits: a state query against one key per term
        self.query = nn.Linear(state_dim, hypernet_embed)
        self.key_unary = nn.Linear(mixing_embed, hypernet_embed)
        self.key_pair = nn.Linear(mixing_embed, hypernet_embed)
        # state bias V(s)
        self.v = nn.Sequential(nn.Linear(state_dim, mixing_embed), nn.ReLU(), nn.Linear(mixing_embed, 1))

    # -- identity semantics ----------------------------------------------------------------

    def encode(self, state: torch.Tensor):
        """Latent mean and log sigma ``(..., n_agents, mixing_embed)`` of every agent's semantics."""
        ids = torch.eye(self.n_agents, dtype=state.dtype, device=state.device)
        h = F.relu(self.enc(cat_features(state.unsqueeze(-2), ids)))
        return self.enc_mean(h), self.enc_log_std(h).clamp(*_LOG_STD_RANGE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Semantic masks ``(..., n_agents, state_dim)`` in (0, 1) from latents ``(..., n_agents, .)``."""
        return torch.sigmoid(self.dec(z))

    def semantic_masks(self, state: torch.Tensor) -> torch.Tensor:
        """Each agent's mask over the state features, from its latent mean (for inspection)."""
        return self.decode(self.encode(state)[0])

    def vae_loss(self, state: torch.Tensor, randn: Callable | None = None, lead=()) -> torch.Tensor:
        """Per-sample VAE loss ``(...,)``: reconstruction + KL + mask sparsity, averaged over agents.

        The latent is sampled with standard normal noise ``randn(shape)`` (``torch.randn`` if None;
        the learner passes its own stream, :meth:`~stablepoint.rl.learner.Learner.randn`), one
        draw per element of the state's leading shape broadcast with ``lead``: a state shared
        along an axis (size 1) still gets one sample per step there, as an unshared one would.
        """
        mean, log_std = self.encode(state)
        std = log_std.exp()
        shape = (*torch.broadcast_shapes(mean.shape[:-2], tuple(lead)), *mean.shape[-2:])
        eps = (randn or torch.randn)(shape).to(device=mean.device, dtype=mean.dtype)
        mask = self.decode(mean + std * eps)
        x = state.unsqueeze(-2)
        recon = ((mask * x - x) ** 2).mean(dim=-1)
        kl = -0.5 * (1.0 + 2.0 * log_std - mean**2 - std**2).mean(dim=-1)
        sparsity = mask.mean(dim=-1)  # = mean |m| since m > 0
        return (recon + kl + sparsity).mean(dim=-1)

    # -- the mixer -------------------------------------------------------------------------

    def credits(self, state: torch.Tensor) -> torch.Tensor:
        """Credits alpha ``(..., n_terms)`` (nonnegative, summing to 1), in the order of :attr:`terms`."""
        z = self.encode(state)[0].detach()  # the semantics are trained by the VAE loss only
        keys = [F.relu(self.key_unary(z))]
        if self.pairwise is not None:
            keys.append(F.relu(self.key_pair(z[..., self.pairs[:, 0], :] + z[..., self.pairs[:, 1], :])))
        keys = torch.cat(keys, dim=-2)  # (..., n_terms, attn_dim)
        query = self.query(state).unsqueeze(-1)  # (..., attn_dim, 1)
        return torch.softmax((keys @ query).squeeze(-1) / math.sqrt(self.attn_dim), dim=-1)

    def shape_values(self, chosen_qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Every shape function's value ``(..., n_terms)``, in the order of :attr:`terms`."""
        f = [self.unary(chosen_qs.unsqueeze(-1), state)]
        if self.pairwise is not None:
            f.append(self.pairwise(chosen_qs[..., self.pairs], state))
        return torch.cat(f, dim=-1)

    def parts(self, chosen_qs: torch.Tensor, state: torch.Tensor):
        """``(f, alpha, v)``: shape values ``(..., K)``, credits ``(..., K)``, state bias ``(...)``."""
        return self.shape_values(chosen_qs, state), self.credits(state), self.v(state).squeeze(-1)

    def forward(self, chosen_qs: torch.Tensor, state: torch.Tensor, ctx=None) -> torch.Tensor:
        f, alpha, v = self.parts(chosen_qs, state)
        return (alpha * f).sum(dim=-1) + v


def na2q_aux(ctx: "Context") -> dict:
    """NA²Q's VAE loss ``{"na2q_vae": beta * mean over filled steps}`` on the online mixer.

    Register as ``AUX_LOSSES["na2q_vae"]``.  The VAE reads the state the mixer reads (round 1's,
    with its condition when there are rounds) and samples its latents from the learner's own
    random stream (``ctx.learner.randn``), one per agent and step at the steps' full leading
    shape, so a population member draws what the single learner would; no global RNG is touched.
    """
    mixer = ctx.learner.mixer
    if not isinstance(mixer, NA2QMixer):
        raise TypeError(f"the na2q_vae auxiliary loss needs the na2q mixer, got {type(mixer).__name__}")
    cond = ctx.rounds.conds[0]
    state = ctx.mixer_state(ctx.state, None if cond is None else ctx.now(cond))
    per_step = mixer.vae_loss(state, ctx.learner.randn, lead=ctx.reward.shape)
    return {"na2q_vae": mixer.vae_beta * ctx.mean(per_step)}
