"""Gradient-flow core: losses, fields, Hessians (autograd vs closed forms, finite differences, sympy)."""

import numpy as np
import pytest
import sympy as sp
import torch

from stablepoint.catalog import get_game
from stablepoint.errors import SettingsError
from stablepoint.gradflow.fastfield import Evaluator, numpy_gradient
from stablepoint.gradflow.fixed_points import find_zero_loss_point
from stablepoint.gradflow.loss import LossModel
from stablepoint.gradflow.mixers import MLPMixer, ModuleMixer, make_mixer
from stablepoint.gradflow.spectra import analyze_point
from stablepoint.payoff import Payoff


@pytest.mark.parametrize("mixer", ["vdn", "qmix", "qmix-abs", "nonmono"])
@pytest.mark.parametrize("tau,eps", [(None, 0.0), (0.3, 0.0), (1.0, 0.2)])
def test_numpy_gradient_matches_autograd(mixer, tau, eps):
    model = LossModel(get_game("game-b"), mixer, tau=tau, epsilon=eps, hidden=5)
    x = np.random.default_rng(3).normal(size=model.dim)
    for kind in ("true", "semi"):
        auto = -model.field(model.to_tensor(x), kind).numpy()
        np.testing.assert_allclose(numpy_gradient(model, x, kind), auto, rtol=1e-10, atol=1e-10)


def test_true_and_semi_differ_by_the_policy_term():
    # Eq. 16: grad L_tau = policy term + value term; the semi-gradient is the value term only.
    model = LossModel(get_game("game-a"), "nonmono", tau=0.5, hidden=3)
    x = model.to_tensor(np.random.default_rng(0).normal(size=model.dim))
    q = x[: model.n_q].clone().requires_grad_(True)
    residual2 = (model.residual(x) ** 2).detach()
    policy_term = torch.autograd.grad((model.policy(torch.cat([q, x[model.n_q:]])) * residual2).sum(), q)[0]
    diff = (model.field(x, "semi") - model.field(x, "true")).detach()
    np.testing.assert_allclose(diff[: model.n_q].numpy(), policy_term.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(diff[model.n_q:].numpy(), 0.0, atol=1e-12)


def _central_difference(fun, x, h=1e-6):
    cols = []
    for j in range(x.numel()):
        e = torch.zeros_like(x)
        e[j] = h
        cols.append((fun(x + e) - fun(x - e)) / (2 * h))
    return torch.stack(cols, dim=1)


@pytest.mark.parametrize("activation", ["tanh", "elu"])
def test_hessian_and_semi_jacobian_match_finite_differences(activation):
    model = LossModel(get_game("game-a"), "nonmono", tau=0.7, hidden=3, activation=activation)
    x = model.to_tensor(np.random.default_rng(1).normal(size=model.dim))
    hess = model.hessian(x)
    fd = _central_difference(lambda z: -model.field(z, "true"), x)
    scale = hess.abs().max()
    assert float((hess - fd).abs().max() / scale) < 1e-6
    jac = model.field_jacobian(x, "semi")
    fd_semi = _central_difference(lambda z: model.field(z, "semi"), x)
    assert float((jac - fd_semi).abs().max() / jac.abs().max()) < 1e-6
    # away from the zero-loss set the semi-gradient Jacobian is not symmetric
    assert float((jac - jac.T).abs().max()) > 1e-3


def test_hessian_matches_sympy_closed_form():
    # 2x2 game, one tanh hidden unit: Q_tot = w2 tanh(w11 q1 + w12 q2 + b1) + b2.
    payoff = Payoff([[4.0, -1.0], [-2.0, 1.0]])
    tau = 0.7
    model = LossModel(payoff, "nonmono", tau=tau, hidden=1, activation="tanh")
    xs = sp.symbols("x0:9")
    zs = sp.symbols("z0:9")

    def q_tot(v, a1, a2):
        s = v[4] * v[a1] + v[5] * v[2 + a2] + v[6]
        return v[7] * sp.tanh(s) + v[8]

    def mu(v, a1, a2):
        p1 = sp.exp(v[a1] / tau) / (sp.exp(v[0] / tau) + sp.exp(v[1] / tau))
        p2 = sp.exp(v[2 + a2] / tau) / (sp.exp(v[2] / tau) + sp.exp(v[3] / tau))
        return p1 * p2

    def objective(pol, val):
        return sum(mu(pol, i, j) * (payoff[i, j] - q_tot(val, i, j)) ** 2 for i in range(2) for j in range(2))

    point = np.random.default_rng(5).normal(size=9)
    hess_expr = sp.hessian(objective(xs, xs), xs)
    hess = np.array(sp.lambdify(xs, hess_expr.tolist(), "math")(*point), dtype=float)
    g = objective(xs, zs)
    semi_field = sp.Matrix([-sp.diff(g, z) for z in zs]).subs(dict(zip(zs, xs)))
    semi_jac = np.array(sp.lambdify(xs, semi_field.jacobian(xs).tolist(), "math")(*point), dtype=float)
    x = model.to_tensor(point)
    np.testing.assert_allclose(model.hessian(x).numpy(), hess, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(model.field_jacobian(x, "semi").numpy(), semi_jac, rtol=1e-9, atol=1e-10)


def test_hessian_at_zero_loss_point_is_gauss_newton_and_semi_jacobian_is_minus_it():
    model = LossModel(get_game("game-b"), "nonmono", tau=0.5, hidden=4)
    point = find_zero_loss_point(model, (2, 2), seed=1)
    x = model.to_tensor(point.x)
    jac = model.residual_jacobian(x)
    mu = model.policy(x).detach()
    gauss_newton = 2 * jac.T @ torch.diag(mu) @ jac
    hess = model.hessian(x)
    scale = float(hess.abs().max())
    assert float((hess - gauss_newton).abs().max()) < 1e-9 * scale
    assert float((model.field_jacobian(x, "semi") + hess).abs().max()) < 1e-9 * scale
    spec = analyze_point(model, point.x)
    assert spec.min_hessian_eigenvalue > -1e-9 * spec.scale
    assert spec.normal_rank == 9 and spec.tangent_dim == model.dim - 9
    np.testing.assert_allclose(spec.normal_eigenvalues, spec.factored_normal_eigenvalues, rtol=1e-6,
                               atol=1e-9 * spec.scale)


def test_module_mixer_equals_builtin_mlp():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ELU(), torch.nn.Linear(4, 1)).double()
    user = ModuleMixer(net, 2)
    builtin = MLPMixer(2, hidden=4)
    w1, b1 = net[0].weight.detach(), net[0].bias.detach()
    w2, b2 = net[2].weight.detach(), net[2].bias.detach()
    theta_builtin = torch.cat([w1.T.reshape(-1), b1, w2.reshape(-1), b2])
    theta_user = user.init_params()
    qsel = torch.randn(9, 2, dtype=torch.float64)
    np.testing.assert_allclose(user(qsel, theta_user).numpy(), builtin(qsel, theta_builtin).numpy(), rtol=1e-12)
    game = get_game("game-a")
    m_user, m_builtin = LossModel(game, user, tau=0.4), LossModel(game, builtin, tau=0.4)
    q = torch.randn(6, dtype=torch.float64)
    f_user = m_user.field(torch.cat([q, theta_user]), "true")
    f_builtin = m_builtin.field(torch.cat([q, theta_builtin]), "true")
    np.testing.assert_allclose(f_user[:6].numpy(), f_builtin[:6].numpy(), rtol=1e-10)
    assert not Evaluator(m_user).numpy and Evaluator(m_builtin).numpy


def test_monotone_mixer_is_monotone():
    mixer = make_mixer("qmix", 2, hidden=6)
    theta = mixer.init_params(seed=2)
    qsel = torch.randn(50, 2, dtype=torch.float64, requires_grad=True)
    grads = torch.autograd.grad(mixer(qsel, theta).sum(), qsel)[0]
    assert bool((grads >= 0).all())


def test_bad_settings_raise_one_line_errors():
    game = get_game("game-a")
    with pytest.raises(SettingsError, match="tau must be"):
        LossModel(game, "nonmono", tau=0.0)
    with pytest.raises(SettingsError, match="tau must be"):
        LossModel(game, "nonmono", tau=-1)
    with pytest.raises(SettingsError, match="unknown mixer 'foo'; choose one of: vdn, qmix"):
        LossModel(game, "foo")
    model = LossModel(game, "nonmono", tau=0.1, hidden=3)
    with pytest.raises(SettingsError, match=r"greedy action \(4, 1\) \(1-based\) is out of range"):
        find_zero_loss_point(model, (3, 0))
    with pytest.raises(SettingsError, match="no zero-loss point"):
        find_zero_loss_point(LossModel(game, "vdn", tau=0.1), (0, 0), restarts=2)
