"""Text tables and figures for the gradient-flow results (joint actions printed 1-based).

>>> from stablepoint.gradflow.outcomes import OutcomeRow
>>> row = OutcomeRow("nonmono", "true", 0.1, 4, 4, 0.25, 0.5, 1e-4, 9e-4, 3.0, (((0, 0), 1), ((1, 1), 3)))
>>> print(format_outcome_rows([row]).splitlines()[2])
nonmono  true    0.1     4      4    0.25   0.50    1.0e-04   9.0e-04    3.00  (1,1):1 (2,2):3
"""

from __future__ import annotations

import numpy as np

__all__ = ["format_outcome_rows", "format_spectrum", "format_verdict", "plot_outcomes", "joint"]


def joint(u) -> str:
    """A 0-based joint action as the papers print it: ``(1,3)``."""
    return "(" + ",".join(str(a + 1) for a in u) + ")"


def format_outcome_rows(rows) -> str:
    """The outcome table: one line per (mixer, flow, tau)."""
    head = (f"{'mixer':<8} {'flow':<5} {'tau':>5} {'runs':>5} {'conv':>6} {'u*':>7} {'IGM':>6} "
            f"{'med loss':>10} {'max |F|':>9} {'med res':>7}  final greedy actions")
    lines = [head, "-" * len(head)]
    for r in rows:
        counts = " ".join(f"{joint(u)}:{c}" for u, c in r.greedy_counts)
        lines.append(
            f"{r.mixer:<8} {r.gradient:<5} {r.tau:>5g} {r.n_runs:>5} {r.n_converged:>6} "
            f"{r.optimal:>7.2f} {r.igm:>6.2f} {r.median_loss:>10.1e} {r.max_field_norm:>9.1e} "
            f"{r.median_residual:>7.2f}  {counts}"
        )
    return "\n".join(lines)


def _eigs(values, k=6) -> str:
    values = np.asarray(values)
    if k is None or values.size <= k:
        body = ", ".join(f"{v:.3e}" for v in values)
        if len(body) > 80:
            chunks = [", ".join(f"{v:.3e}" for v in values[i : i + 8]) for i in range(0, values.size, 8)]
            body = (",\n" + " " * 6).join(chunks)
            return f"({values.size} total)\n      [{body}]"
        return f"[{body}] ({values.size} total)"
    shown = ", ".join(f"{v:.3e}" for v in values[:k])
    return f"[{shown}, ...] ({values.size} total)"


def format_spectrum(spec, game_name: str = "", full: bool = False) -> str:
    """Spectra at a point and the Eq. 19/21 comparison along v = e_{i,b} - e_{i,g_i}.

    ``full`` prints every eigenvalue; otherwise the six smallest of each spectrum.
    """
    k = None if full else 6
    lines = [
        f"point: greedy {joint(spec.greedy)}{' = u*' if spec.optimal else ' (IGM-inconsistent: not u*)'}"
        f"{' on ' + game_name if game_name else ''}, tau = {spec.tau}",
        f"  L_tau = {spec.loss:.3e}, max |y - Q_tot| = {spec.max_residual:.3e}, |grad L_tau| = {spec.field_norm:.3e}",
        f"  normal space (row space of dQ_tot/dx): dimension {spec.normal_rank}; zero-loss set dimension {spec.tangent_dim}",
        f"  Hessian H_tau (true flow: Jacobian -H), ascending: {_eigs(spec.hessian_eigenvalues, k)}",
        f"  H_tau on the normal space, ascending:               {_eigs(spec.normal_eigenvalues, k)}",
    ]
    if spec.factored_normal_eigenvalues is not None:
        lines.append(f"  same, from the factor sqrt(2 mu) J (accurate):     {_eigs(spec.factored_normal_eigenvalues, k)}")
    lines.append(f"  q-q block of H_tau (theta fixed), ascending:        {_eigs(spec.q_block_eigenvalues, k)}")
    semi = spec.semi_eigenvalues
    lines.append(f"  semi-gradient Jacobian: max real part {semi.real.max():.3e}, "
                 f"min real part {semi.real.min():.3e}")
    lines.append(f"  smallest Hessian eigenvalue: {spec.min_hessian_eigenvalue:.3e}  ->  {spec.classification}")
    if spec.directions:
        lines.append("  quadratic forms along v = e_{i,b} - e_{i,g_i} (agent i, g_i -> b, 1-based):")
        lines.append(f"    {'i':>2} {'g_i->b':>7} {'v^T H v':>12} {'-v^T J_semi v':>14} {'Eq. 19':>11} {'Eq. 21':>9}")
        for d in spec.directions:
            e21 = f"{d.eq21:>9.3g}" if d.eq21 is not None else f"{'-':>9}"
            lines.append(f"    {d.agent + 1:>2} {d.from_action + 1:>3}->{d.to_action + 1:<3} {d.hessian:>12.4e} "
                         f"{d.semi:>14.4e} {d.eq19:>11.3e} {e21}")
    return "\n".join(lines)


def format_verdict(verdict) -> str:
    """A verdict: claim, holds/fails, summary, named numbers."""
    tau = "uniform policy" if verdict.tau is None else f"tau = {verdict.tau:g}"
    lines = [
        f"Theorem {verdict.theorem} on {verdict.game} ({verdict.mixer}; {tau}): {verdict.verdict.upper()}",
        f"  claim: {verdict.claim}",
        f"  {verdict.summary}",
    ]
    for name, value in verdict.numbers:
        lines.append(f"    {name}: {value:.4g}")
    for p in verdict.perturbations:
        lines.append(f"    perturbed {p.gradient} flow: greedy {joint(p.greedy_before)} -> {joint(p.greedy_after)}, "
                     f"distance {p.distance:.2e}, max residual {p.max_residual:.2e}, t = {p.t_end:g}")
    return "\n".join(lines)


def plot_outcomes(table, path) -> None:
    """Save a figure: loss curves, fraction of runs whose greedy action is u* over time,
    and a 2-D projection of the trajectories (each agent's utility margin of u*_i)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stablepoint.gradflow.flow import greedy_margins, greedy_path

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    colors = plt.get_cmap("tab20").colors
    grid = np.logspace(-2, np.log10(table.settings.t_max), 80)
    for k, batch in enumerate(table.batches):
        color = colors[k % len(colors)]
        label = f"{batch.mixer} {batch.gradient} tau={batch.tau:g}"
        u_star = batch.optima[0]
        frac = np.zeros_like(grid)
        for j, t in enumerate(batch.trajectories):
            first = label if j == 0 else None
            axes[0].plot(np.maximum(t.t, 1e-2), np.maximum(t.loss, 1e-12), color=color, alpha=0.3, lw=0.8,
                         label=first)
            at_opt = np.array([g in batch.optima for g in greedy_path(batch.shape, t.q_path)])
            i = np.clip(np.searchsorted(t.t, grid, side="right") - 1, 0, len(t.t) - 1)
            frac += at_opt[i]
            m = greedy_margins(batch.shape, u_star, t.q_path)
            axes[2].plot(m[:, 0], m[:, 1], color=color, alpha=0.4, lw=0.8, label=first)
            axes[2].plot(m[-1, 0], m[-1, 1], "o", color=color, ms=3)
        axes[1].plot(grid, frac / max(1, batch.n_runs), color=color, label=label)
    axes[0].set(xscale="log", yscale="log", xlabel="t", ylabel="L_tau", title="loss along trajectories")
    axes[1].set(xscale="log", xlabel="t", ylabel="fraction with greedy = u*", ylim=(-0.02, 1.02),
                title="greedy-action fraction at u*")
    axes[2].axhline(0, color="k", lw=0.5)
    axes[2].axvline(0, color="k", lw=0.5)
    axes[2].set(xlabel="agent 1: Q_1(u*_1) - max other", ylabel="agent 2: Q_2(u*_2) - max other",
                title="trajectories (first quadrant: greedy = u*)")
    for ax in axes:
        ax.legend(fontsize=6)
    fig.suptitle(f"gradient flows on {table.game}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
