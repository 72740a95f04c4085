"""The README and the pages under docs/ hold together: every relative link leads to a file (and a heading
that exists, for a link into a page), and the command-line reference is what --help prints today."""
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
