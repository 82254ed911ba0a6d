"""One option grammar across the subcommands (issue 15, items 2 and 3; table: docs/cli-grammar.md).

Every new spelling works on the commands the table names, every old spelling still works
and prints exactly one deprecation line on stderr, and check and confirm predict under the
same visitation by default.  In-process (CliRunner); the training runs are a few steps long.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from stablepoint.cli import main
from stablepoint.commands.options import parse_seeds, parse_settings
from stablepoint.errors import SettingsError

#: training settings that keep a run to seconds (no update happens before batch_size episodes)
TINY = ["--set", "tensorboard=false", "--set", "batch_size=4", "--set", "buffer_size=8",
        "--set", "epsilon_anneal_steps=8", "--set", "test_interval=8", "--set", "test_episodes=1",
        "--set", "log_interval=8", "--set", "save_interval=16"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def notes(res) -> list[str]:
    return [line for line in res.stderr.splitlines() if line.startswith("stablepoint: ")]


def ok(res):
    assert res.exit_code == 0, (res.output, res.exception)
    assert not notes(res), res.stderr  # a new spelling prints no deprecation line
    return res


@pytest.fixture
def payoff_csv(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("1,0\n0,2\n")
    return path


def _config(run_dir: Path) -> dict:
    return yaml.safe_load((run_dir / "config.yaml").read_text())


def _payoff_of(spec: str) -> np.ndarray:
    from stablepoint.rl.envs import make_env

    return make_env(spec, n_envs=1, seed=0).payoff.values


# --------------------------------------------------------------------------- one game-spec parser


def test_game_and_env_specs_are_one_parser():
    from stablepoint.catalog import get_game

    assert np.array_equal(get_game("matrix:table5").values, get_game("table5").values)
    assert np.array_equal(_payoff_of("matrix:predator-prey:punishment=-5,actions=3"),
                          get_game("predator_prey:punishment=-5,actions=3").values)
    # the old parameter name of the predator-prey game still works in the library
    assert np.array_equal(get_game("predator-prey:penalty=-5").values, get_game("predator-prey:punishment=-5").values)


def test_game_env_and_payoff_name_the_same_game_in_check(payoff_csv):
    by_game = ok(run("check", "--game", "table5", "--method", "vdn", "--format", "json"))
    by_env = ok(run("check", "--env", "matrix:table5", "--method", "vdn", "--format", "json"))
    by_matrix_game = ok(run("check", "--game", "matrix:table5", "--method", "vdn", "--format", "json"))
    docs = [json.loads(r.stdout) for r in (by_game, by_env, by_matrix_game)]
    assert docs[0]["stable"] == docs[1]["stable"] == docs[2]["stable"] == [{"action": [2, 2], "kind": "strong"}]
    own = json.loads(ok(run("check", "--payoff", payoff_csv, "--method", "vdn", "--format", "json")).stdout)
    assert own["shape"] == [2, 2]
    bad = run("check", "--env", "predator_prey:punishment=-2", "--method", "vdn")
    assert bad.exit_code == 2 and "matrix:" in bad.stderr


def test_predator_prey_penalty_is_the_old_spelling_of_punishment():
    new = ok(run("check", "--game", "predator-prey:punishment=-5,actions=2", "--method", "vdn", "--format", "json"))
    old = run("check", "--game", "predator-prey:penalty=-5,actions=2", "--method", "vdn", "--format", "json")
    assert old.exit_code == 0, old.output
    assert notes(old) == ["stablepoint: predator-prey:penalty= is deprecated; use predator-prey:punishment="]
    assert json.loads(old.stdout)["transitions"] == json.loads(new.stdout)["transitions"]


# --------------------------------------------------------------------------- train


def test_train_game_env_and_payoff_build_the_same_games(tmp_path, payoff_csv):
    common = ["--method", "vdn", "--steps", "8", "--no-progress", *TINY]
    ok(run("train", "--game", "table5", "--out", tmp_path / "g", *common))
    ok(run("train", "--env", "matrix:table5", "--out", tmp_path / "e", *common))
    g = _config(tmp_path / "g" / "matrix-table5__vdn__seed0")
    e = _config(tmp_path / "e" / "matrix-table5__vdn__seed0")
    assert g["env"] == e["env"] and g["env"]["spec"] == "matrix:table5"
    assert np.array_equal(_payoff_of(g["env"]["spec"]), _payoff_of(e["env"]["spec"]))
    ok(run("train", "--payoff", payoff_csv, "--out", tmp_path / "p", "--seed", "3", *common))
    (run_dir,) = (tmp_path / "p").iterdir()
    cfg = _config(run_dir)
    assert cfg["seed"] == 3 and cfg["env"]["spec"].startswith("matrix:file=")
    assert _payoff_of(cfg["env"]["spec"]).tolist() == [[1.0, 0.0], [0.0, 2.0]]


def test_train_set_reaches_algo_env_and_training_fields(tmp_path):
    res = ok(run("train", "--game", "table5", "--method", "vdn", "--steps", "8", "--out", tmp_path, "--no-progress",
                 *TINY, "--set", "algo.lr=0.001", "--set", "algo.td_lambda=0.5", "--set", "env.gamma=0.9",
                 "--set", "env.n_envs=4"))
    cfg = _config(tmp_path / "matrix-table5__vdn__seed0")
    assert cfg["algo"]["lr"] == 0.001 and cfg["algo"]["td_lambda"] == 0.5
    assert cfg["env"]["gamma"] == 0.9 and cfg["env"]["n_envs"] == 4
    assert cfg["batch_size"] == 4 and cfg["tensorboard"] is False
    assert "run directory" in res.stdout
    bad = run("train", "--game", "table5", "--method", "vdn", "--out", tmp_path / "b", "--set", "algo.bogus=1")
    assert bad.exit_code == 2 and "bogus" in bad.stderr


def test_train_algo_is_the_old_spelling_of_method(tmp_path):
    res = run("train", "--env", "matrix:table5", "--algo", "vdn", "--steps", "8", "--out", tmp_path, "--no-progress",
              *TINY)
    assert res.exit_code == 0, res.output
    assert notes(res) == ["stablepoint: --algo is deprecated; use --method"]
    assert _config(tmp_path / "matrix-table5__vdn__seed0")["algo"]["name"] == "vdn"
    both = run("train", "--env", "matrix:table5", "--algo", "vdn", "--method", "qmix", "--out", tmp_path)
    assert both.exit_code == 2 and "not both" in both.stderr
    missing = run("train", "--env", "matrix:table5", "--out", tmp_path)
    assert missing.exit_code == 2 and "--method" in missing.stderr


# --------------------------------------------------------------------------- confirm


def _confirm(tmp_path, *args):
    return run("confirm", "--steps", "8", "--out", tmp_path / "runs", "--no-progress", *TINY, *args)


def test_confirm_takes_your_own_payoff_and_the_unified_options(tmp_path, payoff_csv):
    res = ok(_confirm(tmp_path, "--payoff", payoff_csv, "--env", "matrix:table4a", "--method", "vdn",
                      "--seeds", "0,2", "--jobs", "1", "--format", "json"))
    doc = json.loads(res.stdout)
    games = {g["game"]: g["rows"][0] for g in doc["games"]}
    assert set(games) == {"table4a", f"file={payoff_csv}"}
    row = games[f"file={payoff_csv}"]
    assert [s["seed"] for s in row["seeds"]] == [0, 2]
    assert row["stable"] == [[1, 1]]  # the 2x2 payoff's optimum, under uniform visitation
    one = ok(_confirm(tmp_path, "--game", "table4a", "--methods", "vdn", "--seed", "1", "--no-analysis",
                      "--format", "markdown", "--set", "algo.lr=0.002", "--set", "env.gamma=0.5"))
    assert one.stdout.lstrip().startswith("#") and "|" in one.stdout
    (run_dir,) = (tmp_path / "runs" / "table4a").glob("*vdn__seed1")
    cfg = _config(run_dir)
    assert cfg["algo"]["lr"] == 0.002 and cfg["env"]["gamma"] == 0.5 and cfg["seed"] == 1


def test_check_and_confirm_predict_the_same_stable_set_by_default(tmp_path):
    for method in ("vdn", "qmix"):
        check = json.loads(ok(run("check", "--game", "table5", "--method", method, "--format", "json")).stdout)
        conf = json.loads(ok(_confirm(tmp_path, "--game", "table5", "--methods", method, "--seeds", "1",
                                      "--format", "json")).stdout)
        row = conf["games"][0]["rows"][0]
        assert sorted(s["action"] for s in check["stable"]) == sorted(row["stable"]), method
        assert {k: row["settings"][k] for k in ("visitation", "epsilon")} == \
            {k: check["settings"][k] for k in ("visitation", "epsilon")}
    # told otherwise: the learner's own final visitation (decentralized epsilon-greedy at 0.05 for VDN)
    learner = json.loads(ok(_confirm(tmp_path, "--game", "table5", "--methods", "vdn", "--seeds", "1",
                                     "--visitation", "learner", "--format", "json")).stdout)
    settings = learner["games"][0]["rows"][0]["settings"]
    assert settings["visitation"] == "decentralized" and settings["epsilon"] == pytest.approx(0.05)


def test_confirm_algos_is_the_old_spelling_of_methods(tmp_path):
    res = _confirm(tmp_path, "--game", "table4a", "--algos", "vdn", "--seeds", "1", "--no-analysis")
    assert res.exit_code == 0, res.output
    assert notes(res) == ["stablepoint: --algos is deprecated; use --methods"]
    assert "vdn:" in res.stdout


# --------------------------------------------------------------------------- settings line (item 3)


def test_settings_line_says_uniform_at_epsilon_one():
    res = ok(run("check", "--game", "table5", "--method", "vdn"))
    assert "settings: epsilon=1, visitation=centralized (uniform)" in res.stdout
    other = ok(run("check", "--game", "table5", "--method", "vdn", "--epsilon", "0.5"))
    assert "uniform" not in other.stdout.splitlines()[1]
    md = ok(run("check", "--game", "table5", "--method", "vdn", "--format", "markdown"))
    assert "visitation=centralized (uniform)" in md.stdout


def test_confirm_settings_text_says_uniform_at_epsilon_one(tmp_path):
    res = ok(_confirm(tmp_path, "--game", "table4a", "--methods", "vdn", "--seeds", "1"))
    assert "[vdn: visitation=centralized (uniform), epsilon=1]" in res.stdout


# --------------------------------------------------------------------------- --format everywhere


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_games_formats(fmt):
    res = ok(run("games", "--format", fmt))
    if fmt == "json":
        doc = json.loads(res.stdout)
        table5 = next(g for g in doc["games"] if g["name"] == "table5")
        assert table5["shape"] == [3, 3] and table5["values"][0] == [8, -12, -12]
    elif fmt == "markdown":
        assert res.stdout.startswith("| game |") and "| `table5` |" in res.stdout
    else:
        assert "table5" in res.stdout


FLOW = ["flow", "--tau", "1", "--runs", "1", "--hidden", "4", "--t-max", "20", "--no-baseline", "--no-progress"]


def test_flow_format_json_and_markdown_and_the_method_solver_split(payoff_csv):
    doc = json.loads(ok(run(*FLOW, "--game", "B", "--method", "qmix", "--solver", "RK45", "--jobs", "1",
                            "--seed", "1", "--format", "json")).stdout)
    assert doc["kind"] == "flow" and doc["game"] == "game-b"
    assert doc["settings"]["mixers"] == ["qmix"] and doc["settings"]["method"] == "RK45" and doc["settings"]["seed"] == 1
    assert [(r["mixer"], r["gradient"]) for r in doc["rows"]] == [("qmix", "true"), ("qmix", "semi")]
    md = ok(run(*FLOW, "--env", "matrix:B", "--format", "markdown")).stdout
    assert md.startswith("## Flow outcomes on game-b") and "| mixer | gradient |" in md
    own = json.loads(ok(run(*FLOW, "--payoff", payoff_csv, "--method", "vdn", "--format", "json")).stdout)
    assert own["shape"] == [2, 2]


def test_flow_old_spellings_each_print_one_note():
    res = run(*FLOW, "--game", "B", "--mixer", "qmix", "--format", "json")
    assert res.exit_code == 0, res.output
    assert notes(res) == ["stablepoint: --mixer is deprecated; use --method"]
    assert json.loads(res.stdout)["settings"]["mixers"] == ["qmix"]
    res = run(*FLOW, "--game", "B", "--method", "RK23", "--format", "json")  # the old meaning: the ODE solver
    assert res.exit_code == 0, res.output
    assert notes(res) == ["stablepoint: --method RK23 (an ODE solver) is deprecated; use --solver RK23"]
    settings = json.loads(res.stdout)["settings"]
    assert settings["method"] == "RK23" and settings["mixers"] == ["nonmono"]
    res = run(*FLOW, "--game", "B", "--workers", "1", "--format", "json")
    assert res.exit_code == 0, res.output
    assert notes(res) == ["stablepoint: --workers is deprecated; use --jobs"]
    both = run(*FLOW, "--workers", "1", "--jobs", "1")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_hessian_format_json_and_markdown():
    args = ["hessian", "--game", "B", "--method", "nonmono", "--restarts", "2"]
    doc = json.loads(ok(run(*args, "--format", "json")).stdout)
    assert doc["kind"] == "hessian" and doc["mixer"] == "nonmono" and doc["game"] == "game-b"
    assert isinstance(doc["spectrum"]["hessian_eigenvalues"], list) and doc["classification"]
    json.dumps(doc, allow_nan=False)  # a real document: no NaN or Infinity tokens
    md = ok(run(*args, "--format", "markdown")).stdout
    assert md.startswith("## Spectra on game-b") and "| quantity | value |" in md


def test_hessian_mixer_is_the_old_spelling_of_method():
    res = run("hessian", "--mixer", "nope")
    assert res.exit_code == 2
    assert notes(res) == ["stablepoint: --mixer is deprecated; use --method"]
    assert "unknown mixer 'nope'" in res.stderr


# --------------------------------------------------------------------------- figures, sweeps, progress


def test_check_figure_and_its_old_spelling_graph(tmp_path):
    ok(run("check", "--game", "table5", "--method", "vdn", "--figure", tmp_path / "g.dot"))
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    res = run("check", "--game", "table5", "--method", "vdn", "--graph", tmp_path / "h.dot")
    assert res.exit_code == 0, res.output
    assert notes(res) == ["stablepoint: --graph is deprecated; use --figure"]
    assert (tmp_path / "h.dot").read_text() == (tmp_path / "g.dot").read_text()


def test_plot_figure_and_its_old_spelling_out(tmp_path):
    (tmp_path / "r").mkdir()
    new = run("plot", "--figure", tmp_path / "c.txt", tmp_path / "r")
    assert new.exit_code == 2 and not notes(new) and "--figure must end in" in new.stderr
    old = run("plot", "--out", tmp_path / "c.txt", tmp_path / "r")
    assert old.exit_code == 2 and notes(old) == ["stablepoint: --out is deprecated; use --figure"]
    assert "--figure must end in" in old.stderr


def test_sweep_jobs_games_and_payoffs(tmp_path, payoff_csv):
    path = tmp_path / "s.yaml"
    path.write_text(f"out: {tmp_path}/o\nalgos: [vdn]\ngames: [table5]\npayoffs: [{payoff_csv}]\n"
                    "envs: [matrix:qtran]\nseeds: 1\nsettings: {steps: 8}\n")
    res = ok(run("sweep", path, "--jobs", "1", "--no-progress", "--dry-run"))
    assert "3 runs" in res.stdout and "matrix-table5__vdn__seed0" in res.stdout and "matrix-qtran" in res.stdout
    old = run("sweep", path, "--workers", "1", "--no-progress", "--dry-run")
    assert old.exit_code == 0, old.output
    assert notes(old) == ["stablepoint: --workers is deprecated; use --jobs"]
    zero = run("sweep", path, "--jobs", "0", "--dry-run")
    assert zero.exit_code == 2 and "--jobs" in zero.stderr
    seeds = ok(run("sweep", path, "--seeds", "2,5", "--dry-run"))
    assert "6 runs" in seeds.stdout and "seed5" in seeds.stdout and "seed0" not in seeds.stdout


def test_progress_bars_only_when_asked_off_a_terminal():
    quiet = ok(run("check", "--game", "table5", "--method", "vdn"))  # CliRunner's stderr is not a terminal
    assert "9/9" not in quiet.stderr
    loud = ok(run("check", "--game", "table5", "--method", "vdn", "--progress"))
    assert "9/9" in loud.stderr
    flow = ok(run(*FLOW[:-1], "--game", "B", "--progress"))
    assert "trajectories" in flow.stderr
    assert "trajectories" not in ok(run(*FLOW, "--game", "B")).stderr
    tables = ok(run("tables", "--only", "table5", "--no-report", "-q", "--progress"))
    assert "regenerating table5" in tables.stderr
    assert "regenerating" not in ok(run("tables", "--only", "table5", "--no-report", "-q")).stderr


# --------------------------------------------------------------------------- parsers


def test_seeds_and_settings_parsers():
    assert parse_seeds("3") == (0, 1, 2) and parse_seeds("4,1") == (4, 1)
    for bad in ("0", "-1", "a", "1,1", "1,-2"):
        with pytest.raises(SettingsError):
            parse_seeds(bad)
    assert parse_settings(["algo.lr=1e-3", "env.gamma=0.9", "tensorboard=false", "run_name=x"]) == {
        "algo.lr": 0.001, "env.gamma": 0.9, "tensorboard": False, "run_name": "x"}


def test_help_lists_the_new_spellings_and_hides_the_old():
    table = {
        "check": ["--game", "--payoff", "--env", "--method", "--figure", "--format", "--progress"],
        "confirm": ["--game", "--payoff", "--env", "--method", "--methods", "--seed", "--seeds", "--jobs", "--format",
                    "--progress", "--set", "--visitation", "--epsilon"],
        "flow": ["--game", "--payoff", "--env", "--method", "--solver", "--jobs", "--figure", "--seed", "--format",
                 "--progress"],
        "hessian": ["--game", "--payoff", "--env", "--method", "--seed", "--format"],
        "train": ["--env", "--game", "--payoff", "--method", "--seed", "--set", "--progress"],
        "sweep": ["--jobs", "--progress"],
        "games": ["--format"],
        "tables": ["--format", "--progress"],
        "plot": ["--figure"],
    }
    hidden = {"check": ["--graph"], "confirm": ["--algos"], "flow": ["--mixer", "--workers"], "hessian": ["--mixer"],
              "train": ["--algo "], "sweep": ["--workers"], "plot": ["--out"]}
    for command, options in table.items():
        text = ok(run(command, "--help")).stdout
        for option in options:
            assert option in text, (command, option)
        for option in hidden.get(command, []):
            assert option not in text, (command, option)
