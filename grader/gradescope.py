"""The Gradescope autograder zip: setup.sh installs bpcheck and bubblewrap, run_autograder grades /autograder/submission."""

from __future__ import annotations

import zipfile
from pathlib import Path

from .assignment import Assignment

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("reference", "oracles", "grader")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once when the autograder image is built.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-pip python3-venv bubblewrap >/dev/null
python3 -m venv /opt/bpcheck
/opt/bpcheck/bin/pip install -q /autograder/source/bpcheck
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; results go to /autograder/results/results.json.
# Gradescope's container is itself isolated; bpcheck adds bubblewrap where the container allows it and says so when it cannot.
set -uo pipefail
/opt/bpcheck/bin/bpcheck grade /autograder/submission --assignment /autograder/source/{toml} \\
    --format gradescope --out /autograder/results/results.json --state /tmp/bpcheck-state
"""


def build_zip(assignment: Assignment, source: str, out: Path) -> None:
    toml_path = Path(source) if Path(source).suffix == ".toml" else ROOT / "grader" / "assignments" / f"{assignment.name}.toml"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN.format(toml=toml_path.name))):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        z.write(toml_path, toml_path.name)
        for f in ("pyproject.toml", "README.md"):
            z.write(ROOT / f, f"bpcheck/{f}")
        for pkg in PACKAGES:
            for f in sorted((ROOT / pkg).rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".py", ".toml"):
                    z.write(f, f"bpcheck/{f.relative_to(ROOT)}")
