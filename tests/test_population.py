"""Population training: a member is the single learner, computed P at a time.

The oracle is :class:`stablepoint.rl.learner.Learner` itself: the same initial parameters and
the same sampled batches must give the same parameters after 50 updates, for every shipped
algorithm, with full per-sample batches and with the constant-state shortcut.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from stablepoint.catalog import get_game
from stablepoint.rl.config import list_algos, load_algo, make_config
from stablepoint.rl.envs.matrix import MatrixGameEnv
from stablepoint.rl.learner import Learner
from stablepoint.rl.population import (
    OneStepBuffer,
    OneStepGame,
    PopulationLearner,
    distinct_indices,
    one_step_batch,
    train_population,
)
from stablepoint.rl.stacked import stack_modules
from stablepoint.rl.streams import stream_keys, uniform

GAMES = ["table5", "qtran", "risk-reward:agents=2,actions=3,seed=4"]
SEEDS = [3, 11, 12]


def _members(algo, info, seeds=SEEDS):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        out.append(Learner(algo, info, 0.99, seed=s))
    return out


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / max(float(b.norm()), 1e-12))


@pytest.mark.parametrize("algo_name", list_algos())
@pytest.mark.parametrize("shortcut", [True, False])
def test_member_equals_single_learner_after_50_updates(algo_name, shortcut):
    algo = load_algo(algo_name)
    envs = [MatrixGameEnv(get_game(g)) for g in GAMES]
    info = envs[0].info
    singles = _members(algo, info)
    pop = PopulationLearner(_members(algo, info))
    game = OneStepGame.from_envs(envs, "cpu")
    rng = np.random.default_rng(0)
    B = 16
    for step in range(50):
        actions = torch.as_tensor(rng.integers(0, 3, size=(len(SEEDS), B, info.n_agents)))
        reward, _ = game.pay(actions)
        batch = one_step_batch(game, actions, reward)
        if not shortcut:  # every sample carries its own copy of obs, state and avail
            full = batch["reward"].shape
            batch = {k: v.expand(*full, *v.shape[3:]).clone() for k, v in batch.items()}
        eps = 1.0 - step / 50
        stats = pop.update(batch, epsilon=eps)
        for p, single in enumerate(singles):
            own = {k: v.expand(len(SEEDS), *v.shape[1:])[p].expand(B, *v.shape[2:]) if v.shape[1] == 1
                   else v[p] for k, v in batch.items()}
            s_stats = single.update(own, epsilon=eps)
            assert s_stats.keys() == stats.keys()
            for key, value in s_stats.items():
                assert abs(float(stats[key][p]) - value) <= 1e-4 * max(1.0, abs(value)), (key, p, step)
        if (step + 1) % 10 == 0:
            pop.update_targets()
            for single in singles:
                single.update_targets()
    for p, single in enumerate(singles):
        got = pop.member_state_dict(p)
        want = single.state_dict()
        for net in Learner.NETWORKS:
            if net not in want:
                continue
            for key, value in want[net].items():
                assert _rel(got[net][key], value) <= 1e-5, (algo_name, p, net, key, _rel(got[net][key], value))
        assert got["draws"] == want["draws"] and got["n_updates"] == want["n_updates"] == 50


def test_member_state_round_trips_through_a_single_learner():
    algo = dataclasses.replace(load_algo("mrvf"), optimizer="rmsprop")
    info = MatrixGameEnv(get_game("table5")).info
    envs = [MatrixGameEnv(get_game(g)) for g in GAMES]
    game = OneStepGame.from_envs(envs, "cpu")
    pop = PopulationLearner(_members(algo, info))
    acts = torch.zeros(3, 8, 2, dtype=torch.int64)
    for _ in range(3):
        pop.update(one_step_batch(game, acts, game.pay(acts)[0]), epsilon=0.5)
    clone = PopulationLearner([pop.member(p) for p in range(3)])
    batch = one_step_batch(game, acts + 1, game.pay(acts + 1)[0])
    a, b = pop.update(batch, epsilon=0.5), clone.update(batch, epsilon=0.5)
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    for x, y in zip(pop.params, clone.params):
        torch.testing.assert_close(x, y)


def test_stacking_refuses_layers_it_cannot_stack():
    from stablepoint.errors import SettingsError

    with pytest.raises(SettingsError, match="cannot stack"):
        stack_modules([torch.nn.Sequential(torch.nn.LayerNorm(3)) for _ in range(2)])


def test_streams_are_per_member_and_uniform():
    keys = stream_keys(range(64), tag=5)
    u = uniform(keys, 0, (4096,))
    assert abs(float(u.mean()) - 0.5) < 0.005 and abs(float(u.var()) - 1 / 12) < 0.002
    # a member's numbers do not depend on its neighbours, and draws differ
    assert torch.equal(uniform(keys[10:11], 0, (4096,))[0], u[10])
    assert not torch.equal(uniform(keys, 1, (4096,)), u)
    corr = np.corrcoef(u[0].numpy(), u[1].numpy())[0, 1]
    assert abs(corr) < 0.05


@pytest.mark.parametrize("size", [32, 40, 5000])
def test_distinct_indices_are_distinct_and_uniform(size):
    keys = stream_keys(range(400), tag=9)
    counts = np.zeros(size)
    for c in range(5):
        idx = distinct_indices(keys, c, size, 32)
        assert idx.shape == (400, 32)
        assert bool((idx[:, 1:] > idx[:, :-1]).all()) and int(idx.min()) >= 0 and int(idx.max()) < size
        np.add.at(counts, idx.numpy().ravel(), 1)
    expected = 400 * 5 * 32 / size
    # every index is about equally likely (chi-square-sized tolerance)
    assert abs(counts.mean() - expected) < 1e-9 and counts.std() < 4 * np.sqrt(expected) + 1


def test_buffer_ring_and_sample():
    buf = OneStepBuffer(2, capacity=5, n_agents=2, device="cpu")
    for i in range(7):
        buf.insert(torch.full((2, 1, 2), i), torch.full((2, 1), float(i)))
    assert buf.size == 5 and sorted(buf.reward[0].tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]
    acts, rew = buf.sample(5, stream_keys([0, 1], 3), 0)
    assert sorted(rew[1].tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0] and torch.equal(acts[..., 0].float(), rew)


def _cfg(tmp_path, game, algo, seed, **kw):
    settings = dict(steps=400, tensorboard=False, out=str(tmp_path), test_interval=200, log_interval=100,
                    save_interval=200, epsilon_anneal_steps=200)
    settings.update(kw)
    return make_config(f"matrix:{game}", algo, seed=seed, **settings)


def test_train_population_writes_run_directories_like_train(tmp_path):
    from stablepoint.rl.train import train

    cfgs = [_cfg(tmp_path / "pop", g, "qmix", s) for g, s in (("table5", 0), ("table5", 1), ("qtran", 0))]
    results = train_population(cfgs)
    single = train(_cfg(tmp_path / "single", "table5", "qmix", 0))
    for res in results:
        files = sorted(p.name for p in res.run_dir.iterdir())
        assert files == sorted(p.name for p in single.run_dir.iterdir())
        final = json.loads((res.run_dir / "final.json").read_text())
        assert final["t_env"] == 400 and final["n_updates"] == single.n_updates
        rows = [json.loads(line) for line in (res.run_dir / "metrics.jsonl").read_text().splitlines()]
        s_rows = [json.loads(line) for line in (single.run_dir / "metrics.jsonl").read_text().splitlines()]
        assert [sorted(r) for r in rows] == [sorted(r) for r in s_rows]
        assert [r["t_env"] for r in rows] == [r["t_env"] for r in s_rows]
        assert final["matrix"]["greedy"] == list(res.matrix.greedy)
    # the test return is the payoff of the greedy action the final tables report
    for res, game in zip(results, ("table5", "table5", "qtran")):
        g = tuple(res.matrix.greedy)
        assert res.test["test/return_mean"] == pytest.approx(float(get_game(game).values[g]))


def test_population_resume_is_exact(tmp_path):
    cfgs = [_cfg(tmp_path / "a", "table5", "mrvf", s, steps=600) for s in (0, 1)]
    full = train_population(cfgs)
    cut = [_cfg(tmp_path / "b", "table5", "mrvf", s, steps=600) for s in (0, 1)]

    def kill(t_env, total, latest):  # after the checkpoint at 200, before the next one
        if t_env >= 280:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_population(cut, progress=kill)
    resumed = train_population(cut, resume=True)
    for a, b in zip(full, resumed):
        assert b.resumed_from == 200
        fa = json.loads((a.run_dir / "final.json").read_text())
        fb = json.loads((b.run_dir / "final.json").read_text())
        assert fa["matrix"] == fb["matrix"] and fa["test"] == fb["test"]
        ra = (a.run_dir / "metrics.jsonl").read_text().splitlines()
        rb = (b.run_dir / "metrics.jsonl").read_text().splitlines()
        strip = lambda rows: [{k: v for k, v in json.loads(r).items() if k != "train/steps_per_s"} for r in rows]  # noqa: E731
        assert strip(ra) == strip(rb)


def test_population_member_does_not_depend_on_the_other_members(tmp_path):
    alone = train_population([_cfg(tmp_path / "a", "table5", "wqmix", 5)])[0]
    together = train_population([_cfg(tmp_path / "b", "table5", "wqmix", s) for s in (4, 5, 6)])[1]
    a = json.loads((alone.run_dir / "final.json").read_text())["matrix"]
    b = json.loads((together.run_dir / "final.json").read_text())["matrix"]
    assert a["greedy"] == b["greedy"]
    np.testing.assert_allclose(np.array(a["q_tot"]), np.array(b["q_tot"]), rtol=1e-4, atol=1e-4)
