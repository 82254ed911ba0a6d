"""``--budget`` and ``--jobs`` for exact analyses: estimates up front, refusals, bounded partial results.

The rule the commands follow (issue 16.3): before a long analysis the command prints its size
and an estimate (from the first row, a probe solve); with ``--budget SECONDS`` the whole
analysis stops at the budget and the rows it did not finish are reported as unfinished, never
as answers; without a budget an analysis estimated above :data:`UNBOUNDED_LIMIT_S` (or whose
first row does not finish within the probe window) is refused in one line that says what to
do instead; ``--budget inf`` runs to the end, however long.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import click

from stablepoint.errors import ProblemTooLargeError, SettingsError

__all__ = ["Limits", "parse_budget", "resolve_jobs", "estimate_policy", "UNBOUNDED_LIMIT_S", "PROBE_S", "SAY_ABOVE_S"]

#: the longest an analysis may be estimated to run without ``--budget``
UNBOUNDED_LIMIT_S = 60.0
#: seconds to wait for the first row before estimating from the wait alone
PROBE_S = 10.0
#: estimates above this are printed on stderr before the work goes on
SAY_ABOVE_S = 5.0


@dataclass(frozen=True)
class Limits:
    """How much an analysis may take: ``budget`` seconds (None: refuse beyond the limit; inf: none)."""

    budget: float | None
    jobs: int

    @property
    def bounded(self) -> bool:
        return self.budget is not None and math.isfinite(self.budget)

    def analyze_kwargs(self) -> dict:
        """Keyword arguments for :func:`stablepoint.stability.analyze` (an infinite budget is no budget)."""
        return {"jobs": self.jobs, "budget": self.budget if self.bounded else None}


def parse_budget(spec) -> float | None:
    """``--budget`` value: positive seconds, ``inf`` (no bound) or None (not given).

    >>> parse_budget("30"), parse_budget("inf"), parse_budget(None)
    (30.0, inf, None)
    """
    if spec is None:
        return None
    text = str(spec).strip().lower()
    if text in ("inf", "infinity", "none"):
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"--budget {spec!r} is not a number of seconds (e.g. --budget 120, or inf)") from None
    if not value > 0 or math.isnan(value):
        raise SettingsError(f"--budget {spec!r} must be a positive number of seconds (or inf)")
    return value


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_jobs(jobs) -> int:
    """``--jobs`` value (None: every core); at least 1."""
    if jobs is None:
        return available_cores()
    if int(jobs) < 1:
        raise SettingsError(f"--jobs {jobs} must be at least 1")
    return int(jobs)


#: what to do instead, per command, in the refusal
CHECK_ADVICE = ("pass --budget SECONDS for a bounded partial result (unfinished rows are reported, not answered), "
                "--u-tilde A1,...,AN for single rows, --budget inf to run it to the end, or use a smaller game")
CONFIRM_ADVICE = ("pass --budget inf to run it to the end (the prediction needs every row), --no-analysis to train "
                  "without it, or use a smaller game")


def estimate_policy(limits: Limits, command: str = "check", scale: int = 1, unit: str = "",
                    advice: str = CHECK_ADVICE):
    """An ``on_estimate`` callback: say the estimate when it is long, refuse when out of reach.

    ``scale`` multiplies the estimate (e.g. the number of epsilon values of a sweep, each an
    analysis like the probed one); ``unit`` names what the scale counts, for the message;
    ``advice`` says what to do instead.
    """

    def on_estimate(est):
        seconds = est.seconds * scale
        what = est.describe() if scale == 1 else f"{scale} {unit} x {est.describe()}"
        if scale != 1:
            what += f", {'more than ' if est.lower_bound else 'about '}{_short(seconds)} in all"
        judge(limits, command, what, seconds, est.lower_bound, advice)

    return on_estimate


def judge(limits: Limits, command: str, what: str, seconds: float, lower_bound: bool, advice: str) -> None:
    """Refuse (ProblemTooLargeError) an estimate out of reach when no budget was given; else say it if long.

    ``what`` describes the size and estimate; ``lower_bound``: nothing finished within the probe window.
    """
    out_of_reach = lower_bound or seconds > UNBOUNDED_LIMIT_S
    if limits.budget is None and out_of_reach:
        raise ProblemTooLargeError(
            f"{command}: {what}; that is beyond the {UNBOUNDED_LIMIT_S:g} s a command may take without a "
            f"budget: {advice}"
        )
    if out_of_reach or seconds > SAY_ABOVE_S:
        bound = f"; stopping at the {limits.budget:g} s budget" if limits.bounded else ""
        click.echo(f"{command}: {what}{bound}", err=True)
        sys.stderr.flush()


FLOW_ADVICE = ("pass --budget SECONDS for a bounded partial table (cells not run are listed), --budget inf to run "
               "it to the end, fewer --runs or --tau values, or a smaller game")
HESSIAN_ADVICE = "pass --budget SECONDS or --budget inf, fewer --restarts, or a smaller game"


def _short(seconds: float) -> str:
    from stablepoint.stability import format_duration

    return format_duration(seconds)
