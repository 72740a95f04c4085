"""The README and the pages under docs/ hold together: every relative link leads to a file (and a heading
that exists, for a link into a page), the command-line reference is what --help prints today, and the
quoted training log has the form of what a run prints."""
import pathlib
import re

import pytest

import minigan.cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped (hyphens and underscores kept), spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page):
    text = re.sub(r"(?ms)^```.*?^```", "", page.read_text())          # no headings inside code blocks
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_somewhere(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):                                # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def test_the_readme_stays_a_first_hour_and_links_every_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 400
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in readme, page.name


def test_the_cli_reference_is_what_help_prints():
    written = (ROOT / "docs" / "cli.md").read_text()
    assert " ".join(written.split()) == " ".join(minigan.cli.reference().split()), (
        "docs/cli.md is out of date: regenerate it with the command at its top")


def _shape(line, out):
    """A log line with its numbers and run folder blanked: what stays the same from run to run."""
    return re.sub(r"-?\d+(\.\d+)?", "#", line.replace(out, "OUT")).strip()


def test_the_example_training_log_is_what_the_trainer_prints_today(tmp_path):
    """docs/training.md quotes the default run's log; each quoted line must have the form of a line a run prints."""
    import subprocess
    import sys
    page = (ROOT / "docs" / "training.md").read_text()
    block = re.search(r"(?ms)^```\n(minigan: dcgan GAN.*?)^```", page).group(1)
    quoted = [line for line in block.splitlines() if line.strip() and line.strip() != "..."]
    out = str(tmp_path / "u0")
    run = subprocess.run([sys.executable, "-m", "minigan", "train", "--limit", "128", "--epochs", "2", "--log-every",
                          "1", "--eval-n", "64", "--out", out], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "MINIGAN_REGISTRY": "off"})
    assert run.returncode == 0, run.stderr
    printed = {_shape(line, out) for line in (run.stdout + run.stderr).splitlines()}
    stale = [line for line in quoted if _shape(line, "u0") not in printed]
    assert not stale, f"docs/training.md quotes lines no run prints today: {stale}"
