"""Entry point of the thin scripts in ``paper_tables/``: regenerate some tables and print them."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from stablepoint.paper import run_tables
from stablepoint.paper.render import FORMATS, render


def main(names: Sequence[str], argv: Sequence[str] | None = None) -> int:
    """Print the named tables in the chosen format; exit status 1 if one raised."""
    parser = argparse.ArgumentParser(description=f"Regenerate {', '.join(names)} beside the published values.")
    parser.add_argument("--format", choices=FORMATS, default="text")
    args = parser.parse_args(argv)
    results = run_tables(names)
    sys.stdout.write(render(results, args.format) + "\n")
    status = 1 if any(r.status == "error" for r in results) else 0
    raise SystemExit(status)
