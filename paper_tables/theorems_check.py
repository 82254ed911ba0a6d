"""Regenerate the theorem verdicts on catalog games beside the published values.

Thin wrapper: the logic lives in ``stablepoint.paper`` (so the installed
``stablepoint tables`` command finds it); published values are in
``published/`` (= ``stablepoint/data/published/``).

    python paper_tables/theorems_check.py [--format text|markdown|json]
"""

from stablepoint.paper.script import main

if __name__ == "__main__":
    main(["theorems"])
