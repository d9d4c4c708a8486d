"""CITATION.cff, the package version, the golden file and CHANGELOG.md tell the same story."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest

from bpcheck import __version__
from bpcheck.golden import GOLDEN_VERSION

yaml = pytest.importorskip("yaml", reason="PyYAML reads CITATION.cff: pip install 'bpcheck[report]'")

ROOT = Path(__file__).resolve().parents[1]
CFF = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
GOLDEN = json.loads((ROOT / "docs" / "golden" / "bpcheck-golden.json").read_text(encoding="utf-8"))
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_citation_has_the_fields_a_citation_needs():
    for key in ("cff-version", "message", "title", "type", "authors", "version", "date-released", "license", "abstract"):
        assert CFF.get(key), f"CITATION.cff: {key} is missing or empty"
    assert isinstance(CFF["date-released"], datetime.date), CFF["date-released"]  # YAML reads 2026-12-06 as a date
    if "repository-code" in CFF:
        assert re.fullmatch(r"https://\S+", CFF["repository-code"]), CFF["repository-code"]


def test_citation_version_is_the_packages():
    assert str(CFF["version"]) == __version__, f"CITATION.cff says {CFF['version']}, bpcheck.__version__ is {__version__}"


def test_citation_abstract_names_the_golden_version_and_the_exact_oracle():
    assert GOLDEN["version"] == GOLDEN_VERSION
    versions = re.findall(r"golden version (\S+?)\)", CFF["abstract"])
    assert versions == [GOLDEN_VERSION], f"CITATION.cff's abstract names golden {versions}, the file is {GOLDEN_VERSION}"
    assert "exact oracle" in CFF["abstract"] and "ball arithmetic" in CFF["abstract"]


def _newest_release():
    """(version, section text) of CHANGELOG.md's first '## X.Y.Z' heading (the 'Golden data' section is no release)."""
    heading = re.search(r"^## (\d+\.\d+\.\d+)[ \t]*$", CHANGELOG, flags=re.MULTILINE)
    assert heading, "CHANGELOG.md has no '## X.Y.Z' release heading"
    rest = CHANGELOG[heading.end():]
    following = re.search(r"^## ", rest, flags=re.MULTILINE)
    return heading.group(1), rest[: following.start() if following else len(rest)]


def test_changelog_newest_release_is_the_package_version_and_names_the_golden_version():
    version, section = _newest_release()
    assert version == __version__, f"CHANGELOG.md's newest release is {version}, bpcheck.__version__ is {__version__}"
    assert re.search(rf"\bgolden {re.escape(GOLDEN_VERSION)}\b", section), (
        f"CHANGELOG.md's '## {version}' section must name 'golden {GOLDEN_VERSION}'")
