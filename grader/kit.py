"""A student's pre-check kit: a folder that grades one file on an assignment's public probes, with numpy alone.

``python check.py my_file.py`` (or ``%run check.py my_file.py`` in a notebook) runs the same ``Grader`` as the
instructor's ``bpcheck grade``, from a copy of bpcheck's own modules, so the checks and the diagnosis are word for
word the instructor's.  What the kit leaves out: hidden probes (their networks, so their expected values too, which
are computed from the probes when the kit runs), the solution, and every bundled assignment file (each holds its
own hidden probes).  The assignment is kept as JSON: Python 3.10 has no TOML reader without tomli.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .assignment import AssignmentError, read
from .sandbox import own_folders

#: bpcheck's subpackages, copied to the folder of the same name under ``bpcheck/`` in the kit.
VENDORED = ("reference", "oracles", "grader")
#: Never copied: the bundled assignments (with their hidden probes).
LEFT_OUT = ("assignments",)

CHECK_PY = '''"""Check your backprop before you hand it in: python check.py YOUR_FILE.py   (numpy is all it needs)

Runs your file on the public probes of "{title}" with the grader's own checks, and names the mistake the way the
grader's report will.  The hidden probes are not here: passing here does not promise every point.
In a notebook: %run check.py YOUR_FILE.py
"""

import json
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent
sys.path.insert(0, str(KIT))  # the kit's own copy of bpcheck, before any installed one


def main(argv):
    if len(argv) != 1:
        print("usage: python check.py YOUR_FILE.py   (a .py file, a notebook, or a folder)")
        return 2
    from bpcheck.grader.assignment import from_tables
    from bpcheck.grader.grade import Grader

    tables = KIT / "assignment.json"
    assignment = from_tables(tables, tables.read_bytes(), json.loads(tables.read_text(encoding="utf-8")))
    result = Grader(assignment, "none").grade(Path(argv[0]))  # your own code, on your own machine
    print(f"{{result.verdict}}: {{result.score:g}}/{{result.max_score:g}} on the public probes: {{result.message}}")
    for check in result.checks:
        if not check.hidden:
            print(f"  {{'ok  ' if check.passed else 'FAIL'}} {{check.name}}: {{check.output}}")
    return 0 if result.verdict == "pass" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''


def public_tables(raw: dict[str, Any], base: Path, course: Path) -> dict[str, Any]:
    """The assignment's tables without its solution and hidden probes; course files copied into ``course``."""
    tables = {k: v for k, v in raw.items() if k != "solution"}
    public = [p for p in raw.get("probe", []) if not (isinstance(p, dict) and p.get("hidden"))]
    layers = [p for p in raw.get("part", []) if isinstance(p, dict) and "layer" in p]  # their cases: never hidden
    if not public and not layers:
        raise AssignmentError("every probe of this assignment is hidden: a pre-check kit would have nothing to run")
    tables["probe"] = public
    env = tables.get("environment")
    if isinstance(env, dict) and env.get("files"):
        course.mkdir(parents=True, exist_ok=True)
        names = []
        for f in env["files"]:
            src = (base / f).resolve()
            shutil.copyfile(src, course / src.name)
            names.append(f"{course.name}/{src.name}")
        tables["environment"] = {**env, "files": names}
    return tables


def _vendor(out: Path) -> None:
    """bpcheck's own Python modules under ``out/bpcheck/``, as the installed package lays them out."""
    folders = own_folders()  # where this bpcheck's packages are: a checkout or an installed wheel
    shutil.copyfile(folders["bpcheck"] / "__init__.py", out / "bpcheck" / "__init__.py")
    for sub in VENDORED:
        root = folders[f"bpcheck.{sub}"]
        for src in sorted(root.rglob("*.py")):
            rel = src.relative_to(root)
            if rel.parts[0] in LEFT_OUT or "__pycache__" in rel.parts:
                continue
            dest = out / "bpcheck" / sub / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)


def build(name_or_path: str, out: Path) -> Path:
    """Write the kit for the assignment ``name_or_path`` into the folder ``out`` (made; refused if not empty)."""
    path, _, raw = read(name_or_path)
    if out.exists() and any(out.iterdir()):
        raise AssignmentError(f"{out} is not empty; the kit goes into a new or empty folder")
    (out / "bpcheck").mkdir(parents=True, exist_ok=True)
    tables = public_tables(raw, path.parent, out / "course")
    (out / "assignment.json").write_text(json.dumps(tables, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    title = str(raw.get("title", path.stem)).replace('"', "'").replace("\\", "/")
    (out / "check.py").write_text(CHECK_PY.format(title=title), encoding="utf-8")
    _vendor(out)
    return out / "check.py"
