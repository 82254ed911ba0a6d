"""``stablepoint train``: one deep-RL training run with a progress bar.

Exit codes: 0 the run finished; 2 bad input (unknown env/algorithm, bad setting; a run
directory in use by another process, holding a run without ``--resume``/``--force``, or
with a damaged checkpoint or log); 130 interrupted (a checkpoint is written at the
interrupt; rerun with ``--resume``).
"""

from __future__ import annotations

import json

import click

from stablepoint.commands.options import env_options, method_option, parse_settings, progress_option
from stablepoint.commands.options import show_progress as _bars


@click.command()
@env_options()
@method_option("algo", required=True, old=("--algo",),
               help="Algorithm config name (vdn, qmix, wqmix, ow_qmix, qplex, qtran, resq, mrvf, nonmono_qmix, nonmono_qmix_rnd) or a YAML path.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--steps", type=int, default=None, help="Environment steps (default: 20000).")
@click.option("--out", default="runs", show_default=True, help="Parent directory of run directories.")
@click.option("--run-name", default=None, help="Run directory name (default <env>__<algo>__seed<seed>).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's last checkpoint.")
@click.option("--force", is_flag=True, help="Start afresh in a run directory that already holds a run (its results are replaced).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--threads", type=int, default=None, help="Torch CPU threads (default 1).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a setting as a sweep file does: a training field (--set epsilon_anneal_steps=5000), "
                   "algo.<field> (--set algo.lr=0.001) or env.<field> (--set env.gamma=0.9); repeatable.")
@click.option("--profile", default="default", show_default=True,
              help="Training settings profile: default, or pymarl (MRVF Table 9 as PyMARL runs it).")
@progress_option()
@click.option("--wandb", "use_wandb", is_flag=True,
              help="Also log to Weights & Biases (the wandb extra; WANDB_MODE=offline logs locally); "
                   "the same as --set wandb=true.")
def train(env, algo, seed, steps, out, run_name, resume, force, device, threads, overrides, show_progress, profile,
          use_wandb=False):
    """Train ALGO on ENV; writes config, metrics, TensorBoard events, checkpoints and final.json."""
    from stablepoint.rl.config import make_config
    from stablepoint.rl.train import train as run_training

    from pathlib import Path

    from stablepoint.errors import SettingsError

    if resume and force:
        raise click.UsageError("--resume and --force contradict each other: continue the run or replace it")
    if Path(out).exists() and not Path(out).is_dir():
        raise SettingsError(f"--out {out!r} is a file, not a directory")
    from stablepoint.rl.sweep import build_config

    settings = parse_settings(overrides)
    if use_wandb:
        settings["wandb"] = True
    # the sweep file's parser, so --set takes training fields, algo.<field> and env.<field> alike
    given = {"steps": steps, "device": device, "torch_threads": threads, **settings}
    cfg = build_config(env, algo, seed, out, run_name, {k: v for k, v in given.items() if v is not None}, profile)
    if not _bars(show_progress):
        result = run_training(cfg, resume=resume, force=force)
    else:
        from tqdm import tqdm

        with tqdm(total=cfg.steps, unit="step", dynamic_ncols=True, mininterval=0.5, desc=f"{cfg.algo.name} {cfg.env.spec}") as bar:

            def progress(t_env, total, latest):
                bar.update(min(t_env, total) - bar.n)
                if "test/return_mean" in latest:
                    bar.set_postfix(test_return=f"{latest['test/return_mean']:.2f}", refresh=False)

            result = run_training(cfg, resume=resume, progress=progress, force=force)
    click.echo(f"run directory: {result.run_dir}")
    if result.resumed_from is not None:
        click.echo(f"resumed from t_env = {result.resumed_from}")
    click.echo(f"t_env = {result.t_env}, updates = {result.n_updates}, test return = {result.test['test/return_mean']:.3f}")
    if result.matrix is not None:
        m = result.matrix
        shown = "(" + ", ".join(str(a + 1) for a in m.greedy) + ")"
        click.echo(f"greedy joint action (1-based): {shown} from round {m.final_round}")
        for k, q in enumerate(m.q_tot):
            label = f"learned Q_tot, round {k + 1}" if len(m.q_tot) > 1 else "learned Q_tot"
            click.echo(f"{label}:\n{_table(q)}")
        if m.q_jt is not None:
            click.echo(f"learned Q_jt:\n{_table(m.q_jt)}")


def _scalar(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _table(q) -> str:
    if q.ndim != 2:
        return "  (table of shape " + "x".join(map(str, q.shape)) + " in final.json)"
    return "\n".join("  " + " ".join(f"{v:8.2f}" for v in row) for row in q)
