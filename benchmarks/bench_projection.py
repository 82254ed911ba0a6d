"""Speed and exactness of the branch-and-bound Ideal-QMIX engine against the cvxpy reference.

Usage::

    python benchmarks/bench_projection.py speed [--n 10]
    python benchmarks/bench_projection.py graph [--jobs 2]
    python benchmarks/bench_projection.py exact [--n 200] [--shapes 3x3,3x3x3] [--against cvxpy|brute]
        [--jobs 2] [--results analyses/results/exact_cvxpy.jsonl]

``speed`` times ``bnb.solve`` on random payoffs of each shape (integers,
floats, ties, risk-reward; uniform and epsilon-greedy weights) and the
reference: a full cvxpy run where it is short, otherwise its measured time per
QP (the exact problem the reference solves, one total order per agent) times
the number of order combinations.

``graph`` times the whole stable-point transition graph of a 3-agent x
5-action risk-reward game: for each of the 125 u~ the exact greedy set
(``greedy_losses(..., cutoff="optimum")``), u~ spread over ``--jobs`` processes.

``exact`` compares the optimal loss (within 1e-6) and the greedy SET with the
cvxpy reference (``--against cvxpy``) or with a brute force over every
combination of total orders fitted by the exact isotonic solver (``--against
brute``; that solver is itself checked against cvxpy in tests/test_isotonic.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from stablepoint.catalog import risk_reward
from stablepoint.projection import bnb, reference
from stablepoint.projection.isotonic import isotonic_product
from stablepoint.projection.result import greedy_of
from stablepoint.tolerances import LOSS_ATOL, LOSS_RTOL, VALUE_ATOL
from stablepoint.visitation import centralized, decentralized, uniform

KINDS = ("int", "float", "ties", "risk-reward")


def sample(rng, shape, k):
    """Payoff k of a deterministic mix of kinds and visitations; returns (y, w, label)."""
    kind = KINDS[k % 4]
    if kind == "int":
        y = rng.integers(-10, 11, size=shape).astype(float)
    elif kind == "float":
        y = rng.normal(size=shape) * 5
    elif kind == "ties":
        y = rng.integers(0, 3, size=shape).astype(float)
    elif len(set(shape)) == 1:
        y = risk_reward(len(shape), shape[0], int(rng.integers(0, 10**6))).values
    else:
        y = rng.uniform(-10, 10, size=shape)
    u = tuple(int(rng.integers(0, s)) for s in shape)
    vis = k % 3
    w = [uniform(shape), centralized(shape, u, 0.2), decentralized(shape, u, 0.2)][vis]
    return y, w, f"{kind}/{['uniform', 'central', 'decentral'][vis]}"


def warm_up():
    """Load the compiled kernels (numba cache) outside the timings."""
    y = np.array([[8.0, -12, -12], [-12, 3, 0], [-12, 0, 5]])
    bnb.solve(y, uniform(y.shape))


def reference_per_qp(shape, n_qp=8, seed=0):
    """Seconds per QP of the reference's inner loop (its own parameterised cvxpy problem, Clarabel)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=shape)
    w = uniform(shape)
    problem, x, sqrt_w, target, _ = reference.natural_order_qp(shape)

    def load():
        relabel = np.ix_(*(rng.permutation(s) for s in shape))
        sqrt_w.value = np.sqrt(w[relabel]).ravel()
        target.value = (np.sqrt(w[relabel]) * y[relabel]).ravel()

    load()
    reference.solve_qp(problem, x)  # compile once, untimed
    start = time.perf_counter()
    for _ in range(n_qp):
        load()
        reference.solve_qp(problem, x)
    return (time.perf_counter() - start) / n_qp


def fmt_s(t):
    if t >= 3600:
        return f"{t / 3600:.1f} h"
    if t >= 60:
        return f"{t / 60:.1f} min"
    if t >= 1:
        return f"{t:.2f} s"
    return f"{t * 1e3:.1f} ms"


def speed(args):
    shapes = [tuple(int(a) for a in s.split("x")) for s in args.shapes.split(",")]
    warm_up()
    rows = []
    for shape in shapes:
        rng = np.random.default_rng(args.seed)
        times, nodes, uncert = [], [], 0
        for k in range(args.n):
            y, w, _ = sample(rng, shape, k)
            res = bnb.solve(y, w, time_limit=args.time_limit)
            times.append(res.stats["seconds"])
            nodes.append(res.stats["n_nodes"])
            uncert += not res.certified
        n_orders = reference.count_orderings(shape)
        if n_orders <= 300:
            y, w, _ = sample(np.random.default_rng(args.seed), shape, 0)
            reference.solve(y, w)  # first call compiles the cvxpy problem; time the second
            start = time.perf_counter()
            reference.solve(y, w)
            ref_t, how = time.perf_counter() - start, "measured"
            per_qp = ref_t / n_orders
        else:
            per_qp = reference_per_qp(shape)
            ref_t, how = per_qp * n_orders, "extrapolated"
        med = statistics.median(times)
        rows.append((shape, args.n, n_orders, per_qp, ref_t, how, med, max(times), statistics.median(nodes),
                     max(nodes), uncert))
        print(f"  done {shape}", file=sys.stderr, flush=True)
    print("| shape | payoffs | orderings | cvxpy per QP | cvxpy per solve | bnb median | bnb worst "
          "| bnb nodes (median / max) | speed-up (median) | uncertified |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for shape, n, n_orders, per_qp, ref_t, how, med, worst, nmed, nmax, unc in rows:
        print(f"| {'x'.join(map(str, shape))} | {n} | {n_orders:,} | {fmt_s(per_qp)} | {fmt_s(ref_t)} ({how}) "
              f"| {fmt_s(med)} | {fmt_s(worst)} | {nmed:.0f} / {nmax} | {ref_t / med:,.0f}x | {unc} |")


def _graph_chunk(job):
    y, epsilon, tildes = job
    out = {}
    for u in tildes:
        w = centralized(y.shape, u, epsilon)
        g = bnb.greedy_losses(y, w, cutoff="optimum")
        out[u] = (g.greedy_set, g.certified)
    return out


def graph(args):
    y = risk_reward(3, 5, args.seed).values
    tildes = list(itertools.product(range(5), repeat=3))
    warm_up()
    start = time.perf_counter()
    chunks = [tildes[k :: args.jobs] for k in range(args.jobs)]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            parts = list(pool.map(_graph_chunk, [(y, args.epsilon, c) for c in chunks]))
    else:
        parts = [_graph_chunk((y, args.epsilon, tildes))]
    seconds = time.perf_counter() - start
    edges = {u: g for part in parts for u, g in part.items()}
    stable = sorted(u for u, (g, _) in edges.items() if u in g)
    print("| game | epsilon | u~ | processes | wall time | stable points (1-based) | all certified |")
    print("|---|---|---|---|---|---|---|")
    print(f"| risk-reward(3, 5, seed={args.seed}) | {args.epsilon} | {len(edges)} | {args.jobs} "
          f"| {fmt_s(seconds)} | {', '.join(str(tuple(a + 1 for a in u)) for u in stable)} "
          f"| {all(c for _, c in edges.values())} |")


def brute_force(y, w):
    fits = []
    for orders in itertools.product(*(itertools.permutations(range(s)) for s in y.shape)):
        rels = []
        for o, s in zip(orders, y.shape):
            rel = np.zeros((s, s), bool)
            for k, a in enumerate(o):
                rel[a, list(o[k + 1 :])] = True
            rels.append(rel)
        x = isotonic_product(y, w, rels)
        fits.append((float(np.sum(w * (x - y) ** 2)), x))
    best = min(f[0] for f in fits)
    tol = LOSS_ATOL + LOSS_RTOL * best
    return best, frozenset().union(*(greedy_of(x, VALUE_ATOL) for l, x in fits if l <= best + tol))


def engine_digest():
    """Short digest of the engine's source: a logged comparison is current only if it matches."""
    import hashlib

    from stablepoint import tolerances
    from stablepoint.projection import inputs, isotonic, result

    h = hashlib.sha256()
    for mod in (bnb, isotonic, result, inputs, tolerances):
        with open(mod.__file__, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:12]


def _exact_one(job):
    """Compare one sampled payoff; returns the JSON record of the comparison.

    ``stored`` = (loss, greedy, seconds) of the reference from an earlier run:
    the expensive reference is then not solved again, only the engine.
    """
    shape, seed, k, against, stored, engine = job
    rng = np.random.default_rng(seed)
    for _ in range(k + 1):  # payoff k of the stream, exactly as a serial run draws it
        y, w, label = sample(rng, shape, _)
    start = time.perf_counter()
    ours = bnb.solve(y, w)
    seconds = time.perf_counter() - start
    if stored is not None:
        ref_loss, ref_greedy = stored[0], frozenset(tuple(u) for u in stored[1])
        ref_seconds = stored[2]
    else:
        start = time.perf_counter()
        if against == "cvxpy":
            ref = reference.solve(y, w, max_orderings=10**7)
            ref_loss, ref_greedy = ref.loss, ref.greedy
        else:
            ref_loss, ref_greedy = brute_force(y, w)
        ref_seconds = time.perf_counter() - start
    return {
        "shape": "x".join(map(str, shape)), "seed": seed, "k": k, "against": against, "label": label,
        "engine": engine, "loss": ours.loss, "ref_loss": ref_loss,
        "loss_diff": abs(ours.loss - ref_loss), "greedy_same": ours.greedy == ref_greedy,
        "ours_greedy": sorted(ours.greedy), "ref_greedy": sorted(ref_greedy),
        "seconds": seconds, "ref_seconds": ref_seconds,
    }


def _key(rec):
    return rec["shape"], rec["seed"], rec["k"], rec["against"]


def exact(args):
    """Comparisons are appended to ``--results`` (JSONL) as they finish and the file is compacted at the end.

    A rerun skips payoffs already compared with the same engine (source
    digest); for the others it reuses the stored reference answer and solves
    only the engine, so a changed engine is rechecked in seconds.  Records
    without a stored reference loss (older logs) are solved again in full.
    """
    shapes = [tuple(int(a) for a in s.split("x")) for s in args.shapes.split(",")]
    engine = engine_digest()
    done = {}
    if args.results and os.path.exists(args.results):
        with open(args.results) as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    done[_key(rec)] = rec  # later lines win
    jobs = []
    for shape in shapes:
        for k in range(args.n):
            rec = done.get(("x".join(map(str, shape)), args.seed, k, args.against))
            if rec is not None and rec.get("engine") == engine:
                continue
            stored = None
            if rec is not None and "ref_loss" in rec:
                stored = (rec["ref_loss"], rec["ref_greedy"], rec.get("ref_seconds"))
            jobs.append((shape, args.seed, k, args.against, stored, engine))
    sink = open(args.results, "a") if args.results else None
    try:
        with ProcessPoolExecutor(args.jobs) as pool:
            for n_done, rec in enumerate(pool.map(_exact_one, jobs), start=1):
                done[_key(rec)] = rec
                if sink:
                    sink.write(json.dumps(rec) + "\n")
                    sink.flush()
                print(f"  {n_done}/{len(jobs)} {rec['shape']} #{rec['k']} {rec['seconds']:.3f} s "
                      f"(reference {rec['ref_seconds'] or 0:.1f} s)", file=sys.stderr, flush=True)
    finally:
        if sink:
            sink.close()
    if args.results:  # one line per comparison, atomically
        tmp = args.results + ".tmp"
        with open(tmp, "w") as fh:
            for rec in sorted(done.values(), key=lambda r: (r["against"], r["shape"], r["seed"], r["k"])):
                fh.write(json.dumps(rec) + "\n")
        os.replace(tmp, args.results)
    print(f"engine {engine}")
    print("| shape | payoffs | against | max loss difference | greedy sets identical | mismatches |")
    print("|---|---|---|---|---|---|")
    for shape in shapes:
        name = "x".join(map(str, shape))
        recs = [done[(name, args.seed, k, args.against)] for k in range(args.n)]
        worst = max(r["loss_diff"] for r in recs)
        same = sum(r["greedy_same"] for r in recs)
        bad = [(r["k"], r["label"]) for r in recs if not (r["greedy_same"] and r["loss_diff"] <= 1e-6)]
        print(f"| {name} | {args.n} | {args.against} | {worst:.1e} | {same}/{args.n} | {bad if bad else 'none'} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--shapes", default="3x3,5x5,3x3x3,4x4x4,5x5x5,8x8,4x4x4x4")
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=120.0)
    p.set_defaults(run=speed)
    p = sub.add_parser("graph")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epsilon", type=float, default=0.2)
    p.set_defaults(run=graph)
    p = sub.add_parser("exact")
    p.add_argument("--shapes", default="3x3,5x5,3x3x3,4x4x4")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--against", choices=("cvxpy", "brute"), default="cvxpy")
    p.add_argument("--jobs", type=int, default=1, help="processes (payoffs are independent)")
    p.add_argument("--results", default=None, help="JSONL file: append each comparison; a rerun reuses stored reference answers")
    p.set_defaults(run=exact)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
