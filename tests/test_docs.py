"""The docs stand on their own and stay true to the tree: every relative link resolves (to a
file, and to a heading when it names one), no file points outside the repository, and
docs/architecture.md's module map names every module of the package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted(
    [
        *REPO.glob("*.md"),
        *(REPO / "docs").glob("*.md"),
        *(REPO / "bench").glob("*.md"),
        *(REPO / "charts" / "cronjobs").glob("*.md"),
        *(REPO / "k8s").glob("*.md"),
        *(REPO / "examples" / "app").glob("*.md"),
    ]
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        missing = not dest.exists() or REPO not in (dest, *dest.parents)
        if missing or (anchor and dest.suffix == ".md" and anchor not in anchors(dest)):
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)} links to what is not there: {broken}"


def test_no_file_points_outside_the_repository() -> None:
    tracked = [p for p in REPO.rglob("*") if p.is_file() and not _ignored(p)]
    offenders = [
        str(p.relative_to(REPO))
        for p in tracked
        if p.suffix in {".md", ".py", ".sh", ".yaml", ".tpl", ".txt", ".toml", ""}
        and "../shared/" in p.read_text(errors="replace")
        and p != Path(__file__).resolve()
    ]
    assert offenders == []


def _ignored(path: Path) -> bool:
    parts = path.relative_to(REPO).parts
    return parts[0] in {".git", ".venv", ".tools", "cronjobs-demo"} or "__pycache__" in parts


def test_architecture_names_every_module() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    modules = {
        p.name
        for p in (REPO / "jobs" / "cronjobs").rglob("*.py")
        if p.name not in {"__init__.py", "__main__.py"}
    }
    named = {f"{n}.py" for n in re.findall(r"\b([a-z_]+)\.py\b", text)}
    missing = sorted(modules - named)
    gone = sorted(
        n for n in named - modules - {"__init__.py", "conftest.py"} if not n.startswith("test_")
    )
    assert missing == [], f"docs/architecture.md does not name {missing}"
    assert gone == [], f"docs/architecture.md names modules that are not in jobs/: {gone}"
