"""The docs stay true: the configuration reference matches Settings, the README stays short, links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.config import SECTIONS, Settings
from testing.config_doc import COMMAND, render

ROOT = Path(__file__).resolve().parent.parent
README_MAX_BYTES = 12_000  # the README is the front door: what, the two commands, a map, links
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_configuration_reference_matches_settings():
    doc = ROOT / "docs" / "configuration.md"
    expected = render()
    actual = doc.read_text(encoding="utf-8") if doc.exists() else ""
    assert actual == expected, f"docs/configuration.md is stale: regenerate it with `{COMMAND}`"


def test_every_setting_is_described():
    """The reference is only as good as the descriptions it is generated from."""
    for section in SECTIONS:
        assert (section.__doc__ or "").strip(), f"{section.__name__} has no docstring"
    undescribed = [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert not undescribed, f"settings without a description in rag/config.py: {undescribed}"


def test_readme_is_short():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size} bytes (at most {README_MAX_BYTES}): move the long story into docs/ and link to it")


def _without_fences(text: str) -> str:
    """Markdown without fenced code blocks (a `# comment` in a shell block is not a heading)."""
    return re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)


def _prose(text: str) -> str:
    """Markdown without code blocks and code spans (a link shown as code is not a link)."""
    return re.sub(r"`[^`\n]*`", "", _without_fences(text))


def _links(text: str) -> list[str]:
    """Targets of inline links and images: [text](target) and ![alt](target "title")."""
    return [m.group(1) for m in re.finditer(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", _prose(text))]


def _anchors(markdown: str) -> set[str]:
    """The heading anchors GitHub makes: lower case, punctuation dropped, spaces to hyphens, -1/-2 for repeats."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _without_fences(markdown), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path):
    broken = []
    for target in _links(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I):  # http:, https:, mailto: ...
            continue
        path_part, _, anchor = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.exists():
            broken.append(f"{target} (no file {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path})")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path.read_text(encoding="utf-8")):
            broken.append(f"{target} (no heading #{anchor} in {path.relative_to(ROOT)})")
    assert not broken, f"broken links in {doc.relative_to(ROOT)}: " + "; ".join(broken)


def test_link_checker_sees_links():
    """The checks above cannot pass vacuously: the README links into docs/, and a broken link is caught."""
    assert "docs/architecture.md" in _links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert _links("see [x](docs/missing.md) and `[y](docs/code.md)`") == ["docs/missing.md"]
    assert "how-data-flows" in _anchors((ROOT / "README.md").read_text(encoding="utf-8"))
