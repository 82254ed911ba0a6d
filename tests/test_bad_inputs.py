"""A corpus of bad inputs across every subcommand: each is exit code 2, one line, no traceback.

Each case is (id, command line, files to create, expected substring of the one line).  In the
command line ``{d}`` is the case's temporary folder.  Files map a path (relative to it) to
``str`` (text), ``bytes``, a NumPy array (saved with ``np.save``) or ``DIR`` (a folder).
A case whose command succeeds, prints more than one line or a traceback, fails.
"""

from __future__ import annotations


import numpy as np
import pytest
from click.testing import CliRunner

from stablepoint.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DIR = object()
GARBAGE = bytes(range(256)) * 4
TABLE5 = "8,-12,-12\n-12,3,0\n-12,0,5\n"
LONG_OK_HEAD = "a1,a2,value\n"


def _long(*rows):
    return LONG_OK_HEAD + "".join(r + "\n" for r in rows)


def _run_folder(config="env:\n  spec: matrix:table5\nalgo:\n  name: vdn\nseed: 0\nsteps: 100\n", metrics=None):
    files = {"r/run/config.yaml": config}
    if metrics is not None:
        files["r/run/metrics.jsonl"] = metrics
    return files


P = "--payoff"
CHECK = ["check", "--method", "vdn"]
G5 = ["check", "--game", "table5", "--method", "vdn"]


def _payoff(name, content, match, *, file="p.csv", extra=()):
    return (f"payoff-{name}", [*CHECK, P, "{d}/" + file, *extra], {file: content}, match)


PAYOFFS = [
    _payoff("empty", "", "empty"),
    _payoff("blank-lines", "\n\n  \n", "empty"),
    _payoff("ragged", "1,2,3\n4,5\n", "ragged"),
    _payoff("ragged-long-row", "1,2\n3,4,5\n", "ragged"),
    _payoff("non-numeric", "1,2\n3,abc\n", "non-numeric"),
    _payoff("non-numeric-first", "1,x\n3,4\n", "non-numeric"),
    _payoff("nan", "1,nan\n3,4\n", "NaN"),
    _payoff("inf", "1,inf\n3,4\n", "infinity"),
    _payoff("minus-inf", "1,-inf\n3,4\n", "infinity"),
    _payoff("semicolon", "1;2\n3;4\n", "separator"),
    _payoff("semicolon-3x3", "8;-12;-12\n-12;3;0\n-12;0;5\n", "separator"),
    _payoff("tab", "1\t2\n3\t4\n", "separator"),
    _payoff("tab-header", "x\ta\tb\nr\t1\t2\ns\t3\t4\n", "separator"),
    _payoff("pipe", "1|2\n3|4\n", "separator"),
    _payoff("one-column", "1\n2\n3\n", "at least 2 actions"),
    _payoff("one-row", "1,2,3\n", "at least 2 actions"),
    _payoff("header-only", "a,b,c\n", "no data rows"),
    _payoff("header-mismatch", "x,a,b,c,d\n1,2,3\n4,5,6\n", "header"),
    _payoff("binary", GARBAGE, "text"),
    _payoff("binary-npy-name", GARBAGE, "npy", file="p.npy"),
    _payoff("utf16", "1,2\n3,4\n".encode("utf-16"), "p.csv"),
    _payoff("npy-1d", np.array([1.0, 2.0, 3.0]), "at least 2 agents", file="p.npy"),
    _payoff("npy-0d", np.array(3.0), "at least 2 agents", file="p.npy"),
    _payoff("npy-one-action", np.zeros((2, 1)), "at least 2 actions", file="p.npy"),
    _payoff("npy-empty", np.zeros((0, 2)), "at least 2 actions", file="p.npy"),
    _payoff("npy-nan", np.array([[1.0, np.nan], [0.0, 0.0]]), "NaN", file="p.npy"),
    _payoff("npy-inf", np.array([[1.0, np.inf], [0.0, 0.0]]), "infinity", file="p.npy"),
    _payoff("npy-complex", np.array([[1 + 1j, 2], [3, 4]]), "complex", file="p.npy"),
    _payoff("npy-object", np.array([[1, "a"], [3, 4]], dtype=object), "npy", file="p.npy"),
    _payoff("npy-strings", np.array([["a", "b"], ["c", "d"]]), "not real numbers", file="p.npy"),
    _payoff("npy-bool", np.array([[True, False], [False, True]]), "bool", file="p.npy"),
    _payoff("npy-truncated", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }"
            + b" " * 50 + b"\n" + b"\x00" * 8, "npy", file="p.npy"),
    _payoff("long-huge-index", _long("0,0,1", "0,1,2", "1,0,3", "1000000000,1,4"), "1000000000"),
    _payoff("long-huge-index-first", _long("999999999999,0,1", "0,1,2"), "999999999999"),
    _payoff("long-negative-index", _long("0,0,1", "0,1,2", "1,0,3", "-1,1,4"), "negative"),
    _payoff("long-non-integer-index", _long("0,0,1", "0,1,2", "1,0,3", "1.5,1,4"), "1.5"),
    _payoff("long-float-indices", _long("0.0,0,1", "0.0,1,2", "1.0,0,3", "1.0,1,4"), "0.0"),
    _payoff("long-missing", _long("0,0,1", "0,1,2", "1,0,3"), "missing"),
    _payoff("long-duplicate", _long("0,0,1", "0,1,2", "1,0,3", "1,1,4", "0,1,5"), "duplicate"),
    _payoff("long-wrong-fields", _long("0,0,1", "0,1", "1,0,3", "1,1,4"), "fields"),
    _payoff("long-bad-value", _long("0,0,1", "0,1,x", "1,0,3", "1,1,4"), "not a number"),
    _payoff("long-nan-value", _long("0,0,1", "0,1,nan", "1,0,3", "1,1,4"), "NaN"),
    _payoff("long-one-agent", "a1,value\n0,1\n1,2\n", "at least 2 agent columns"),
    _payoff("long-header-only", "a1,a2,value\n", "no data rows"),
    _payoff("long-one-action", _long("0,0,1", "0,1,2"), "at least 2 actions"),
    _payoff("long-semicolon", "a1;a2;value\n0;0;1\n0;1;2\n1;0;3\n1;1;4\n", "separator"),
    _payoff("long-too-large", _long("0,0,1", "0,1,2", "1,0,3", "99999,99999,4"), "rows"),
    ("payoff-missing-file", [*CHECK, P, "{d}/nope.csv"], {}, "not found"),
    ("payoff-directory", [*CHECK, P, "{d}/sub"], {"sub": DIR}, "sub"),
]

CHECK_OPTIONS = [
    ("check-no-source", ["check", "--method", "vdn"], {}, "exactly one of --payoff"),
    ("check-both-sources", [*G5, P, "{d}/p.csv"], {"p.csv": TABLE5}, "exactly one of --payoff"),
    ("check-no-method", ["check", "--game", "table5"], {}, "--method"),
    ("check-unknown-method", ["check", "--game", "table5", "--method", "nope"], {}, "nope"),
    ("check-unknown-game", ["check", "--game", "table99", "--method", "vdn"], {}, "unknown game"),
    ("check-game-empty", ["check", "--game", "", "--method", "vdn"], {}, "game"),
    ("check-game-bad-param", ["check", "--game", "risk-reward:agents=abc", "--method", "vdn"], {}, "abc"),
    ("check-game-one-agent", ["check", "--game", "risk-reward:agents=1,actions=3,seed=0", "--method", "vdn"], {}, "agents"),
    ("check-game-unknown-param", ["check", "--game", "risk-reward:bogus=3", "--method", "vdn"], {}, "bogus"),
    ("check-game-params-on-fixed", ["check", "--game", "table5:agents=3", "--method", "vdn"], {}, "table5"),
    ("check-epsilon-high", [*G5, "--epsilon", "1.5"], {}, "epsilon"),
    ("check-epsilon-low", [*G5, "--epsilon", "-0.1"], {}, "epsilon"),
    ("check-epsilon-nan", [*G5, "--epsilon", "nan"], {}, "epsilon"),
    ("check-epsilon-inf", [*G5, "--epsilon", "inf"], {}, "epsilon"),
    ("check-epsilon-text", [*G5, "--epsilon", "abc"], {}, "not a valid float"),
    ("check-alpha-zero", ["check", "--game", "table5", "--method", "wqmix", "--alpha", "0"], {}, "alpha"),
    ("check-alpha-high", ["check", "--game", "table5", "--method", "wqmix", "--alpha", "1.5"], {}, "alpha"),
    ("check-alpha-nan", ["check", "--game", "table5", "--method", "wqmix", "--alpha", "nan"], {}, "alpha"),
    ("check-alpha-not-for-vdn", [*G5, "--alpha", "0.5"], {}, "--alpha does not apply"),
    ("check-visitation", [*G5, "--visitation", "nope"], {}, "--visitation"),
    ("check-tie-rule", ["check", "--game", "table5", "--method", "wqmix", "--tie-rule", "x"], {}, "--tie-rule"),
    ("check-solver", ["check", "--game", "table5", "--method", "qmix", "--solver", "nope"], {}, "unknown solver"),
    ("check-max-orderings-zero", ["check", "--game", "table5", "--method", "qmix", "--max-orderings", "0"], {}, "--max-orderings"),
    ("check-max-orderings-text", ["check", "--game", "table5", "--method", "qmix", "--max-orderings", "x"], {}, "--max-orderings"),
    ("check-time-limit-zero", ["check", "--game", "table5", "--method", "qmix", "--time-limit", "0"], {}, "--time-limit"),
    ("check-time-limit-negative", ["check", "--game", "table5", "--method", "qmix", "--time-limit", "-1"], {}, "--time-limit"),
    ("check-losses", ["check", "--game", "table5", "--method", "qmix", "--losses", "some"], {}, "--losses"),
    ("check-format", [*G5, "--format", "html"], {}, "html"),
    ("check-graph-suffix", [*G5, "--figure", "{d}/g.txt"], {}, "--figure"),
    ("check-graph-no-suffix", [*G5, "--figure", "{d}/g"], {}, "--figure"),
    ("check-graph-missing-dir", [*G5, "--figure", "{d}/no/g.png"], {}, "does not exist"),
    ("check-graph-is-dir", [*G5, "--figure", "{d}/sub"], {"sub": DIR}, "sub"),
    ("check-out-missing-dir", [*G5, "--out", "{d}/no/r.json"], {}, "does not exist"),
    ("check-out-is-dir", [*G5, "--out", "{d}/sub"], {"sub": DIR}, "sub"),
    ("check-sweep-two-parts", [*G5, "--sweep", "0:1"], {}, "--sweep grid"),
    ("check-sweep-four-parts", [*G5, "--sweep", "0:1:3:4"], {}, "--sweep grid"),
    ("check-sweep-zero-points", [*G5, "--sweep", "0:1:0"], {}, "--sweep grid"),
    ("check-sweep-negative-points", [*G5, "--sweep", "0:1:-3"], {}, "--sweep grid"),
    ("check-sweep-float-points", [*G5, "--sweep", "0:1:2.5"], {}, "--sweep grid"),
    ("check-sweep-text", [*G5, "--sweep", "a:b:c"], {}, "--sweep grid"),
    ("check-sweep-huge", [*G5, "--sweep", "0:1:1000000000"], {}, "10000"),
    ("check-sweep-huge-list", [*G5, "--sweep", ",".join(["0.5"] * 10001)], {}, "10000"),
    ("check-sweep-empty-item", [*G5, "--sweep", "0.1,,0.2"], {}, "empty"),
    ("check-sweep-trailing-comma", [*G5, "--sweep", "0.1,0.2,"], {}, "empty"),
    ("check-sweep-empty", [*G5, "--sweep", ""], {}, "--sweep"),
    ("check-sweep-commas-only", [*G5, "--sweep", ",,"], {}, "--sweep"),
    ("check-sweep-out-of-range", [*G5, "--sweep", "0:2:3"], {}, "epsilon"),
    ("check-sweep-nan", [*G5, "--sweep", "0.1,nan"], {}, "epsilon"),
    ("check-sweep-with-epsilon", [*G5, "--sweep", "0:1:3", "--epsilon", "0.5"], {}, "exclusive"),
    ("check-sweep-uniform", [*G5, "--sweep", "0:1:3", "--visitation", "uniform"], {}, "uniform"),
    ("check-sweep-with-graph", [*G5, "--sweep", "0:1:3", "--figure", "{d}/g.png"], {}, "--figure"),
    ("check-sweep-tol-zero", [*G5, "--sweep", "0:1:3", "--sweep-tol", "0"], {}, "tolerance"),
    ("check-sweep-tol-negative", [*G5, "--sweep", "0:1:3", "--sweep-tol", "-1"], {}, "tolerance"),
    ("check-sweep-tol-nan", [*G5, "--sweep", "0:1:3", "--sweep-tol", "nan"], {}, "tolerance"),
    ("check-u-tilde-text", [*G5, "--u-tilde", "a,b"], {}, "not an integer"),
    ("check-u-tilde-length", [*G5, "--u-tilde", "1"], {}, "agents"),
    ("check-u-tilde-range", [*G5, "--u-tilde", "1,9"], {}, "out of range"),
    ("check-u-tilde-zero", [*G5, "--u-tilde", "0,1"], {}, "out of range"),
    ("check-u-tilde-twice", [*G5, "--u-tilde", "1,1", "--u-tilde", "1,1"], {}, "twice"),
    ("check-unknown-option", [*G5, "--bogus"], {}, "--bogus"),
]

GAMES = [
    ("games-extra-argument", ["games", "extra"], {}, "extra"),
    ("games-unknown-option", ["games", "--all"], {}, "--all"),
    ("unknown-command", ["nope"], {}, "nope"),
]

F = ["flow", "--runs", "1", "--t-max", "1", "--tau", "1", "--no-baseline"]
FLOW = [
    ("flow-unknown-game", [*F, "--game", "nope"], {}, "unknown game"),
    ("flow-unknown-mixer", [*F, "--method", "nope"], {}, "nope"),
    ("flow-tau-zero", [*F, "--tau", "0"], {}, "tau"),
    ("flow-tau-negative", [*F, "--tau", "1,-0.3"], {}, "tau"),
    ("flow-tau-text", [*F, "--tau", "abc"], {}, "--tau"),
    ("flow-tau-empty", [*F, "--tau", ""], {}, "--tau"),
    ("flow-tau-empty-item", [*F, "--tau", "1,,0.1"], {}, "--tau"),
    ("flow-tau-nan", [*F, "--tau", "nan"], {}, "tau"),
    ("flow-gradient", [*F, "--gradient", "half"], {}, "--gradient"),
    ("flow-runs-zero", [*F, "--runs", "0"], {}, "--runs"),
    ("flow-runs-negative", [*F, "--runs", "-2"], {}, "--runs"),
    ("flow-runs-text", [*F, "--runs", "x"], {}, "--runs"),
    ("flow-hidden-zero", [*F, "--method", "nonmono", "--hidden", "0"], {}, "--hidden"),
    ("flow-epsilon-high", [*F, "--epsilon", "1.5"], {}, "--epsilon"),
    ("flow-epsilon-negative", [*F, "--epsilon", "-0.1"], {}, "--epsilon"),
    ("flow-epsilon-nan", [*F, "--epsilon", "nan"], {}, "--epsilon"),
    ("flow-t-max-zero", [*F, "--t-max", "0"], {}, "--t-max"),
    ("flow-t-max-negative", [*F, "--t-max", "-5"], {}, "--t-max"),
    ("flow-t-max-inf", [*F, "--t-max", "inf"], {}, "--t-max"),
    ("flow-gtol-zero", [*F, "--gtol", "0"], {}, "--gtol"),
    ("flow-gtol-negative", [*F, "--gtol", "-1e-3"], {}, "--gtol"),
    ("flow-method", [*F, "--solver", "EULER"], {}, "EULER"),
    ("flow-workers-zero", [*F, "--jobs", "0"], {}, "--jobs"),
    ("flow-figure-missing-dir", [*F, "--figure", "{d}/no/f.png"], {}, "does not exist"),
    ("flow-figure-suffix", [*F, "--figure", "{d}/f.txt"], {}, "--figure"),
    ("flow-figure-no-suffix", [*F, "--figure", "{d}/f"], {}, "--figure"),
    ("flow-figure-is-dir", [*F, "--figure", "{d}/sub"], {"sub": DIR}, "sub"),
]

H = ["hessian", "--restarts", "1"]
HESSIAN = [
    ("hessian-unknown-game", [*H, "--game", "nope"], {}, "unknown game"),
    ("hessian-greedy-text", [*H, "--greedy", "a,b"], {}, "--greedy"),
    ("hessian-greedy-empty", [*H, "--greedy", ""], {}, "--greedy"),
    ("hessian-greedy-length", [*H, "--greedy", "1"], {}, "greedy"),
    ("hessian-greedy-range", [*H, "--greedy", "9,9"], {}, "range"),
    ("hessian-greedy-zero", [*H, "--greedy", "0,1"], {}, "range"),
    ("hessian-tau-zero", [*H, "--tau", "0"], {}, "tau"),
    ("hessian-tau-negative", [*H, "--tau", "-1"], {}, "tau"),
    ("hessian-tau-text", [*H, "--tau", "x"], {}, "--tau"),
    ("hessian-mixer", [*H, "--method", "nope"], {}, "nope"),
    ("hessian-hidden-zero", [*H, "--hidden", "0"], {}, "--hidden"),
    ("hessian-restarts-zero", ["hessian", "--restarts", "0"], {}, "--restarts"),
    ("hessian-restarts-negative", ["hessian", "--restarts", "-1"], {}, "--restarts"),
]

T = ["train", "--no-progress", "--out", "{d}/runs", "--steps", "8"]
TV = [*T, "--env", "matrix:table5", "--method", "vdn"]
TRAIN = [
    ("train-no-env", ["train", "--method", "vdn"], {}, "--env"),
    ("train-unknown-env-family", [*T, "--env", "nope:x", "--method", "vdn"], {}, "nope"),
    ("train-unknown-matrix-game", [*T, "--env", "matrix:nope", "--method", "vdn"], {}, "nope"),
    ("train-empty-env", [*T, "--env", "", "--method", "vdn"], {}, "env"),
    ("train-bad-env-param", [*T, "--env", "predator_prey:punishment=abc", "--method", "vdn"], {}, "punishment"),
    ("train-unknown-env-param", [*T, "--env", "predator_prey:bogus=1", "--method", "vdn"], {}, "bogus"),
    ("train-unknown-algo", [*T, "--env", "matrix:table5", "--method", "nope"], {}, "nope"),
    ("train-missing-algo-yaml", [*T, "--env", "matrix:table5", "--method", "{d}/nope.yaml"], {}, "nope"),
    ("train-binary-algo-yaml", [*T, "--env", "matrix:table5", "--method", "{d}/a.yaml"], {"a.yaml": GARBAGE}, "a.yaml"),
    ("train-invalid-algo-yaml", [*T, "--env", "matrix:table5", "--method", "{d}/a.yaml"], {"a.yaml": "name: [\n"}, "a.yaml"),
    ("train-steps-zero", [*TV, "--steps", "0"], {}, "steps"),
    ("train-steps-negative", [*TV, "--steps", "-5"], {}, "steps"),
    ("train-steps-text", [*TV, "--steps", "many"], {}, "--steps"),
    ("train-seed-text", [*TV, "--seed", "x"], {}, "--seed"),
    ("train-seed-negative", [*TV, "--seed", "-1"], {}, "seed"),
    ("train-threads-zero", [*TV, "--threads", "0"], {}, "threads"),
    ("train-device", [*TV, "--device", "tpu"], {}, "--device"),
    ("train-set-no-equals", [*TV, "--set", "lr"], {}, "KEY=VALUE"),
    ("train-set-unknown-key", [*TV, "--set", "bogus_key=1"], {}, "bogus_key"),
    ("train-set-wrong-type", [*TV, "--set", "batch_size=abc"], {}, "batch_size"),
    ("train-set-negative-lr", [*TV, "--set", "lr=-1"], {}, "lr"),
    ("train-profile", [*TV, "--profile", "nope"], {}, "nope"),
    ("train-run-name-escape", [*TV, "--run-name", "../../x"], {}, "run name"),
    ("train-resume-and-force", [*TV, "--resume", "--force"], {}, "--force"),
    ("train-out-is-file", [*TV], {"runs": "not a folder"}, "runs"),
    ("train-resume-garbage-checkpoint", [*TV, "--run-name", "r", "--resume"],
     {"runs/r/checkpoints/last.pt": GARBAGE, "runs/r/config.yaml": "seed: 0\n"}, "last.pt"),
    ("train-resume-empty-checkpoint", [*TV, "--run-name", "r", "--resume"],
     {"runs/r/checkpoints/last.pt": b"", "runs/r/config.yaml": "seed: 0\n"}, "last.pt"),
    ("train-existing-run-without-resume", [*TV, "--run-name", "r"],
     {"runs/r/final.json": "{}", "runs/r/config.yaml": "seed: 0\n", "runs/r/metrics.jsonl": ""}, "--resume"),
]

C = ["confirm", "--seeds", "1", "--steps", "8", "--methods", "vdn", "--no-analysis", "--out", "{d}/runs"]
CONFIRM = [
    ("confirm-no-game", ["confirm"], {}, "--game"),
    ("confirm-unknown-game", [*C, "--game", "nope"], {}, "nope"),
    ("confirm-second-game-typo", [*C, "--game", "table5", "--game", "tabel5"], {}, "tabel5"),
    ("confirm-unknown-algo", [*C, "--game", "table5", "--methods", "nope"], {}, "nope"),
    ("confirm-second-algo-typo", [*C, "--game", "table5", "--methods", "vdn,qmxi"], {}, "qmxi"),
    ("confirm-empty-algos", [*C, "--game", "table5", "--methods", ","], {}, "--methods"),
    ("confirm-seeds-zero", [*C, "--game", "table5", "--seeds", "0"], {}, "--seeds"),
    ("confirm-seeds-negative", [*C, "--game", "table5", "--seeds", "-1"], {}, "--seeds"),
    ("confirm-steps-zero", [*C, "--game", "table5", "--steps", "0"], {}, "steps"),
    ("confirm-steps-text", [*C, "--game", "table5", "--steps", "x"], {}, "--steps"),
    ("confirm-jobs-zero", [*C, "--game", "table5", "--jobs", "0"], {}, "--jobs"),
    ("confirm-threads-zero", [*C, "--game", "table5", "--threads", "0"], {}, "threads"),
    ("confirm-set-no-equals", [*C, "--game", "table5", "--set", "lr"], {}, "KEY=VALUE"),
    ("confirm-set-unknown-key", [*C, "--game", "table5", "--set", "bogus_key=1"], {}, "bogus_key"),
    ("confirm-profile", [*C, "--game", "table5", "--profile", "nope"], {}, "nope"),
    ("confirm-markdown-missing-dir", [*C, "--game", "table5", "--markdown", "{d}/no/r.md"], {}, "does not exist"),
    ("confirm-markdown-is-dir", [*C, "--game", "table5", "--markdown", "{d}/sub"], {"sub": DIR}, "sub"),
    ("confirm-json-missing-dir", [*C, "--game", "table5", "--json", "{d}/no/r.json"], {}, "does not exist"),
    ("confirm-out-is-file", [*C, "--game", "table5"], {"runs": "a file"}, "runs"),
]


def _sweep(name, text, match, extra=()):
    return (f"sweep-{name}", ["sweep", "{d}/s.yaml", "--no-progress", "--jobs", "1", *extra], {"s.yaml": text}, match)


OKS = "out: {d}/o\nalgos: [vdn]\nenvs: [matrix:table5]\nseeds: 1\nsettings: {steps: 8}\n"
SWEEPS = [
    ("sweep-missing-file", ["sweep", "{d}/nope.yaml"], {}, "does not exist"),
    ("sweep-directory", ["sweep", "{d}/sub"], {"sub": DIR}, "sub"),
    _sweep("binary", GARBAGE, "s.yaml"),
    _sweep("utf16", OKS.encode("utf-16"), "s.yaml"),
    _sweep("invalid-yaml", "algos: [vdn\n", "not valid YAML"),
    _sweep("empty", "", "missing"),
    _sweep("top-level-list", "- vdn\n- qmix\n", "mapping"),
    _sweep("top-level-scalar", "just text\n", "mapping"),
    _sweep("unknown-key", OKS + "what: 3\n", "unknown key(s) what"),
    _sweep("missing-algos", "envs: [matrix:table5]\nseeds: 1\n", "missing 'algos'"),
    _sweep("missing-envs", "algos: [vdn]\nseeds: 1\n", "missing 'envs'"),
    _sweep("missing-seeds", "algos: [vdn]\nenvs: [matrix:table5]\n", "missing 'seeds'"),
    _sweep("seeds-zero", "algos: [vdn]\nenvs: [matrix:table5]\nseeds: 0\n", "seeds"),
    _sweep("seeds-negative-list", "algos: [vdn]\nenvs: [matrix:table5]\nseeds: [-1]\n", "seeds"),
    _sweep("seeds-text", "algos: [vdn]\nenvs: [matrix:table5]\nseeds: abc\n", "seeds"),
    _sweep("seeds-bool", "algos: [vdn]\nenvs: [matrix:table5]\nseeds: [true]\n", "seeds"),
    _sweep("algos-empty", "algos: []\nenvs: [matrix:table5]\nseeds: 1\n", "algos"),
    _sweep("algos-mapping", "algos: {a: 1}\nenvs: [matrix:table5]\nseeds: 1\n", "algos"),
    _sweep("envs-empty", "algos: [vdn]\nenvs: []\nseeds: 1\n", "envs"),
    _sweep("settings-list", OKS.replace("settings: {steps: 8}", "settings: [1, 2]"), "settings"),
    _sweep("overrides-scalars", OKS + "overrides: [1, 2]\n", "override"),
    _sweep("overrides-axis-empty", OKS + "overrides: {lr: []}\n", "overrides.lr"),
    _sweep("vectorize-text", OKS + "vectorize: yes please\n", "vectorize"),
    _sweep("population-size-zero", OKS + "population_size: 0\n", "population_size"),
    _sweep("profile-list", OKS + "profile: [a]\n", "profile"),
    _sweep("unknown-algo", OKS.replace("[vdn]", "[vdn, nope]"), "nope"),
    _sweep("unknown-env-family", OKS.replace("[matrix:table5]", "[matrix:table5, nope:x]"), "nope"),
    _sweep("bad-env-param", OKS.replace("[matrix:table5]", "['predator_prey:punishment=abc']"), "punishment"),
    _sweep("unknown-setting", OKS.replace("{steps: 8}", "{steps: 8, bogus_key: 1}"), "bogus_key"),
    _sweep("bad-nested-setting", OKS.replace("{steps: 8}", "{steps: 8, foo.bar: 1}"), "foo.bar"),
    _sweep("reserved-setting", OKS.replace("{steps: 8}", "{steps: 8, seed: 3}"), "seed"),
    _sweep("steps-negative", OKS.replace("{steps: 8}", "{steps: -8}"), "steps"),
    _sweep("workers-zero", OKS, "jobs", extra=("--jobs", "0")),
    _sweep("workers-text", OKS, "--jobs", extra=("--jobs", "x")),
    _sweep("backend", OKS, "--backend", extra=("--backend", "slurm")),
]

PL = ["plot", "--figure", "{d}/c.png"]
RUN_CFG = "env:\n  spec: matrix:table5\nalgo:\n  name: vdn\nseed: 0\nsteps: 100\n"
PLOT = [
    ("plot-no-runs", ["plot"], {}, "RUNS"),
    ("plot-missing-dir", [*PL, "{d}/nope"], {}, "nope"),
    ("plot-empty-dir", [*PL, "{d}/r"], {"r": DIR}, "r"),
    ("plot-out-suffix", ["plot", "--figure", "{d}/c.txt", "{d}/r"], {"r": DIR}, "--figure"),
    ("plot-out-no-suffix", ["plot", "--figure", "{d}/c", "{d}/r"], {"r": DIR}, "--figure"),
    ("plot-out-missing-dir", ["plot", "--figure", "{d}/no/c.png", "{d}/r"], _run_folder(RUN_CFG, '{"t_env": 0, "test/return_mean": 1}\n'), "does not exist"),
    ("plot-out-is-dir", ["plot", "--figure", "{d}/sub.png", "{d}/r"], {"sub.png": DIR, **_run_folder(RUN_CFG, '{"t_env": 0, "test/return_mean": 1}\n')}, "sub.png"),
    ("plot-csv-missing-dir", [*PL, "--csv", "{d}/no/f.csv", "{d}/r"], _run_folder(RUN_CFG, '{"t_env": 0, "test/return_mean": 1}\n'), "does not exist"),
    ("plot-metric", [*PL, "--metric", "loss", "{d}/r"], {"r": DIR}, "--metric"),
    ("plot-negative", [*PL, "--negative", "x", "{d}/r"], {"r": DIR}, "--negative"),
    ("plot-tolerance-negative", [*PL, "--tolerance", "-1", "{d}/r"], _run_folder(RUN_CFG, '{"t_env": 0, "test/return_mean": 1}\n'), "--tolerance"),
    ("plot-tolerance-nan", [*PL, "--tolerance", "nan", "{d}/r"], _run_folder(RUN_CFG, '{"t_env": 0, "test/return_mean": 1}\n'), "--tolerance"),
    ("plot-final-fraction-zero", [*PL, "--final-fraction", "0", "{d}/r"], _run_folder(RUN_CFG, '{"t_env": 0, "test/return_mean": 1}\n'), "--final-fraction"),
    ("plot-final-fraction-high", [*PL, "--final-fraction", "1.5", "{d}/r"], _run_folder(RUN_CFG, '{"t_env": 0, "test/return_mean": 1}\n'), "--final-fraction"),
    ("plot-config-garbage", [*PL, "{d}/r"], _run_folder(GARBAGE, '{"t_env": 0, "test/return_mean": 1}\n'), "config.yaml"),
    ("plot-config-list", [*PL, "{d}/r"], _run_folder("- 1\n- 2\n", '{"t_env": 0, "test/return_mean": 1}\n'), "config.yaml"),
    ("plot-config-missing-keys", [*PL, "{d}/r"], _run_folder("seed: 0\n", '{"t_env": 0, "test/return_mean": 1}\n'), "config.yaml"),
    ("plot-metrics-missing", [*PL, "{d}/r"], _run_folder(RUN_CFG), "metrics.jsonl"),
    ("plot-metrics-garbage", [*PL, "{d}/r"], _run_folder(RUN_CFG, "not json\n" + '{"t_env": 0}\n'), "metrics.jsonl"),
    ("plot-metrics-binary", [*PL, "{d}/r"], _run_folder(RUN_CFG, GARBAGE), "metrics.jsonl"),
    ("plot-metrics-no-test-rows", [*PL, "{d}/r"], _run_folder(RUN_CFG, '{"t_env": 0, "loss": 1}\n'), "r"),
    ("plot-metrics-bad-t-env", [*PL, "{d}/r"], _run_folder(RUN_CFG, '{"t_env": "x", "test/return_mean": 1}\n{"t_env": 1}\n'), "metrics.jsonl"),
]

TABLES = [
    ("tables-only-unknown", ["tables", "--only", "table99"], {}, "table99"),
    ("tables-format", ["tables", "--only", "table5", "--format", "html"], {}, "html"),
    ("tables-report-and-no-report", ["tables", "--only", "table5", "--report", "{d}/R.md", "--no-report"], {}, "--no-report"),
    ("tables-report-is-dir", ["tables", "--only", "table5", "--report", "{d}/sub"], {"sub": DIR}, "sub"),
    ("tables-report-parent-is-file", ["tables", "--only", "table5", "--report", "{d}/f/R.md"], {"f": "a file"}, "f"),
]

CASES = PAYOFFS + CHECK_OPTIONS + GAMES + FLOW + HESSIAN + TRAIN + CONFIRM + SWEEPS + PLOT + TABLES

#: cases that reveal a bug not fixed yet: id -> reason
XFAIL: dict[str, str] = {}


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[case[0]])] if case[0] in XFAIL else []
        yield pytest.param(*case[1:], id=case[0], marks=marks)


def _make(root, files):
    for rel, content in files.items():
        path = root / rel.replace("{d}", str(root))
        if content is DIR:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, np.ndarray):
            with open(path, "wb") as fh:
                np.save(fh, content, allow_pickle=content.dtype == object)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{d}", str(root)))


def test_corpus_is_large_and_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 150
    commands = {c[1][0] for c in CASES}
    assert {"check", "games", "flow", "hessian", "train", "confirm", "sweep", "plot", "tables"} <= commands


@pytest.mark.parametrize("args, files, match", list(_params()))
def test_bad_input_is_one_line_exit_2(tmp_path, monkeypatch, args, files, match):
    monkeypatch.chdir(tmp_path)
    _make(tmp_path, files)
    argv = [a.replace("{d}", str(tmp_path)) for a in args]
    res = CliRunner().invoke(main, argv)
    out = res.output
    assert "Traceback" not in out
    assert res.exit_code == 2, (res.exit_code, out, res.exception)
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert match.lower() in lines[0].lower(), lines[0]
