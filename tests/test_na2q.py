"""NA²Q's mixer: broadcast leading axes, stacking as a population, monotonicity, the VAE loss,
fitting an additive payoff, and an end-to-end training run."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from stablepoint.catalog import get_game
from stablepoint.rl.config import load_algo, make_config
from stablepoint.rl.controller import Controller, LinearSchedule
from stablepoint.rl.envs import make_env
from stablepoint.rl.learner import AUX_LOSSES, Context, Learner
from stablepoint.rl.mixers import MIXERS, MixContext, make_mixer
from stablepoint.rl.na2q import NA2QMixer, na2q_aux
from stablepoint.rl.runner import run_episodes
from stablepoint.rl.stacked import stack_modules
from stablepoint.rl.train import train

torch.set_num_threads(1)
N, A, SD = 3, 4, 5


@pytest.fixture
def aux_registered(monkeypatch):
    """The learner's registry with ``na2q_vae`` in it (whether or not learner.py registers it)."""
    monkeypatch.setitem(AUX_LOSSES, "na2q_vae", na2q_aux)


def _mixer(seed=0, n=N, sd=SD):
    torch.manual_seed(seed)
    return make_mixer("na2q", n, A, sd)


def _ctx(lead_q, lead_s):
    acts = torch.zeros(*lead_q, N, dtype=torch.long)
    return MixContext.for_actions(acts, torch.zeros(*lead_s, N), A, max_qs=torch.zeros(*lead_s, N))


def test_registered_and_terms():
    assert MIXERS["na2q"] is NA2QMixer and isinstance(_mixer(), NA2QMixer)
    assert load_algo("na2q").mixer == "na2q" and load_algo("na2q").aux_losses == ("na2q_vae",)
    assert _mixer().terms == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    single = _mixer(n=1)
    assert single.terms == [(0,)] and single(torch.randn(4, 1), torch.randn(4, SD)).shape == (4,)


def test_size_one_leading_axes_broadcast_like_the_expanded_state():
    mixer = _mixer()
    g = torch.Generator().manual_seed(1)
    P, B, T = 2, 4, 3
    chosen = torch.randn(P, B, T, N, generator=g) * 3
    state = torch.randn(P, 1, T, SD, generator=g)
    with torch.no_grad():
        shared = mixer(chosen, state, _ctx((P, B, T), (P, 1, T)))
        full = mixer(chosen, state.expand(P, B, T, SD), _ctx((P, B, T), (P, B, T)))
        flat = mixer(chosen.reshape(-1, N), state.expand(P, B, T, SD).reshape(-1, SD), None).view(P, B, T)
    assert shared.shape == (P, B, T)
    torch.testing.assert_close(shared, full)
    torch.testing.assert_close(shared, flat)


def test_stacks_into_a_population_by_swapping_linear_layers():
    members = [_mixer(seed) for seed in range(3)]
    stacked = stack_modules(members)  # refuses any parameter outside nn.Linear
    assert all(type(m) is not nn.Linear for m in stacked.modules())
    g = torch.Generator().manual_seed(2)
    P, B, T = 3, 5, 2
    chosen = torch.randn(P, B, T, N, generator=g) * 3
    for state in (torch.randn(P, 1, T, SD, generator=g), torch.randn(1, 1, T, SD, generator=g)):
        with torch.no_grad():
            out = stacked(chosen, state, _ctx((P, B, T), state.shape[:-1]))
            assert out.shape == (P, B, T)
            for p, m in enumerate(members):
                torch.testing.assert_close(out[p], m(chosen[p], state[min(p, len(state) - 1)], None))


@pytest.mark.parametrize("seed", range(4))
def test_monotone_in_every_utility(seed):
    mixer = _mixer(seed)
    with torch.no_grad():  # wider than the initialization: abs must hold for any parameters
        for p in mixer.parameters():
            p.normal_(0.0, 1.0)
    g = torch.Generator().manual_seed(seed)
    chosen = (torch.randn(256, N, generator=g) * 5).requires_grad_(True)
    state = torch.randn(256, SD, generator=g)
    mixer(chosen, state, None).sum().backward()
    assert (chosen.grad >= 0).all()
    assert (chosen.grad > 0).float().mean() > 0.5  # not vacuous


def test_credits_are_a_distribution_over_terms_and_pairs_interact():
    mixer = _mixer(3, n=2, sd=1)
    state = torch.randn(6, 1)
    f, alpha, v = mixer.parts(torch.randn(6, 2), state)
    assert f.shape == alpha.shape == (6, 3) and v.shape == (6,)
    assert (alpha >= 0).all()
    torch.testing.assert_close(alpha.sum(-1), torch.ones(6))
    torch.testing.assert_close(alpha, mixer.credits(state))  # the credits never read the utilities
    # the pairwise term makes Q_tot non-additive: a nonzero interaction contrast
    with torch.no_grad():
        q = torch.tensor([[-3.0, -3.0], [3.0, 3.0], [-3.0, 3.0], [3.0, -3.0]])
        s = torch.ones(4, 1)
        val = mixer(q, s, None)
    assert abs(float(val[0] + val[1] - val[2] - val[3])) > 1e-4


def test_vae_loss_samples_from_the_given_stream_and_forward_is_deterministic():
    mixer = _mixer()
    state = torch.randn(8, SD)
    chosen = torch.randn(8, N)
    torch.testing.assert_close(mixer(chosen, state, None), mixer(chosen, state, None))

    def loss(seed):
        g = torch.Generator().manual_seed(seed)
        return mixer.vae_loss(state, lambda shape: torch.randn(shape, generator=g))

    assert loss(0).shape == (8,) and torch.equal(loss(0), loss(0)) and not torch.equal(loss(0), loss(1))
    masks = mixer.semantic_masks(state)
    assert masks.shape == (8, N, SD) and ((masks > 0) & (masks < 1)).all()


def test_aux_loss_trains_the_vae_only(aux_registered):
    learner = Learner(load_algo("na2q"), make_env("matrix:table5", 1).info, seed=0)
    env = make_env("matrix:table5", n_envs=16, seed=0)
    ctl = Controller(learner, LinearSchedule(1.0, 1.0, 1), seed=0)
    batch, _ = run_episodes(env, ctl, test_mode=False, t_env=0)
    ctx = Context(learner, batch.trimmed().to_torch(), 1.0)
    rng = torch.get_rng_state()
    out = na2q_aux(ctx)
    assert torch.equal(torch.get_rng_state(), rng)  # the noise comes from the learner's stream
    assert set(out) == {"na2q_vae"} and out["na2q_vae"].dim() == 0 and torch.isfinite(out["na2q_vae"])
    out["na2q_vae"].backward()
    mixer = learner.mixer
    vae = [mixer.enc, mixer.enc_mean, mixer.enc_log_std, mixer.dec]
    vae_ids = {id(p) for m in vae for p in m.parameters()}
    for name, p in mixer.named_parameters():
        touched = p.grad is not None and bool(p.grad.abs().sum() > 0)
        assert touched == (id(p) in vae_ids), name
    assert all(p.grad is None for p in learner.agent.parameters())
    # the mixer reads the semantics without gradient: the TD loss leaves the VAE alone
    learner.optimizer.zero_grad(set_to_none=True)
    ctx.q_tot(0, ctx.actions).sum().backward()
    assert all(p.grad is None for p in mixer.enc.parameters())
    assert mixer.query.weight.grad is not None and mixer.unary.layers[0].weight.grad is not None


def test_fits_an_additive_payoff():
    # Y[a, b] = x_a + y_b is VDN-representable; NA²Q must fit it with free utilities.
    x, y = torch.tensor([0.0, 4.0, 1.0]), torch.tensor([2.0, 0.0, 5.0])
    payoff = x[:, None] + y[None, :]
    joint = torch.tensor(list(itertools.product(range(3), repeat=2)))
    mixer = _mixer(0, n=2, sd=1)
    utilities = nn.Parameter(0.1 * torch.randn(2, 3, generator=torch.Generator().manual_seed(0)))
    opt = torch.optim.Adam([utilities, *mixer.parameters()], lr=0.01)
    state = torch.ones(9, 1)
    target = payoff.reshape(-1)
    for _ in range(600):  # converges within ~500 steps; a few seconds on a loaded CPU
        q_tot = mixer(utilities[torch.arange(2), joint], state, None)
        loss = ((q_tot - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        fitted = mixer(utilities[torch.arange(2), joint], state, None)
    assert (fitted - target).abs().max() < 0.1, fitted.view(3, 3)
    assert int(fitted.argmax()) == int(target.argmax()) == 5  # joint action (1, 2)
    # IGM: the utilities' greedy actions are the greedy joint action
    assert tuple(utilities.argmax(-1).tolist()) == (1, 2)


def test_trains_end_to_end(tmp_path, aux_registered):
    cfg = make_config("matrix:table5", "na2q", steps=2000, tensorboard=False, out=str(tmp_path))
    result = train(cfg)
    assert result.t_env >= 2000 and result.n_updates > 0
    q_tot = result.matrix.q_tot[0]
    assert q_tot.shape == get_game("table5").shape and torch.isfinite(torch.as_tensor(q_tot)).all()
    rows = (result.run_dir / "metrics.jsonl").read_text()
    assert "losses/na2q_vae" in rows and "losses/tot" in rows
