"""The documentation: README's promises, the mkdocs site builds strictly, every relative link resolves."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

INSTALL_AND_MAIN_JOB = (
    'python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install -e ".[dev]" '
    "&& stablepoint check --game table5 --method wqmix"
)
TEST_COMMAND = "python -m pytest"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_SNIPPET = re.compile(r'^--8<--\s+"([^"]+)"', re.M)


def _doc_files():
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    text = _FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def test_readme_is_short_and_starts_with_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    bash = [body.strip() for lang, body in _FENCE.findall(text) if lang == "bash"]
    assert bash[:2] == [INSTALL_AND_MAIN_JOB, TEST_COMMAND]
    # CI runs exactly the README's test command after the README's install
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[dev]"' in ci
    assert ci.rstrip().splitlines()[-1] == TEST_COMMAND


def test_readme_shows_the_main_jobs_real_output():
    from click.testing import CliRunner

    from stablepoint.cli import main

    shown = re.search(r"^The main job prints.*?\n```\n(.*?)^```", README.read_text(), re.S | re.M).group(1)
    res = CliRunner().invoke(main, ["check", "--game", "table5", "--method", "wqmix", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert shown == res.stdout, "README.md: paste the current output of the main job"


def test_readme_states_that_long_csv_indices_are_0_based():
    from stablepoint.payoff import parse_long_csv

    text = README.read_text()
    assert "In a long CSV the action indices are 0-based" in text
    # the README's example: row "0,0,8" is the joint action (0, 0), printed (1, 1)
    csv = re.search(r"printf '([^']*)' > game\.csv", text).group(1).replace("\\n", "\n")
    payoff = parse_long_csv(csv)
    assert payoff.shape == (3, 3) and payoff[(0, 0)] == 8 and payoff.format_action((0, 0)) == "(1, 1)"


@pytest.mark.parametrize("path", _doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    missing = []
    for target in _LINK.findall(_prose(path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        file = target.split("#", 1)[0]
        if not (path.parent / file).exists():
            missing.append(target)
    for included in _SNIPPET.findall(path.read_text()):
        if not (ROOT / included).is_file():
            missing.append(f"--8<-- {included}")
    assert not missing, f"{path.relative_to(ROOT)}: {missing}"


def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    # no mkdocs here means an install from before the docs extra joined dev: pip install -e ".[dev]"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (site / "index.html").is_file()
    # the results pages include the committed reports rather than copies of them
    page = (site / "results" / "paper-tables" / "index.html").read_text()
    assert "Paper tables: regenerated versus published" in page
    assert "stablepoint check" in (site / "reference" / "cli" / "index.html").read_text()
