"""Checking a float against a published figure, to the digits the source printed; the golden file as published."""

import json
from decimal import Decimal
from pathlib import Path

GOLDEN_FILE = Path(__file__).resolve().parents[1] / "docs" / "golden" / "bpcheck-golden.json"


def assert_printed(value: float, printed: str, what: str = "") -> None:
    """|value − printed| ≤ half a unit in the printed figure's last place (what rounding to those digits allows)."""
    exponent = Decimal(printed).as_tuple().exponent
    half_ulp = 0.5 * 10.0**exponent
    assert abs(value - float(printed)) <= half_ulp, f"{what}: computed {value!r}, published {printed} (allowed ±{half_ulp:g})"


def as_published(data: dict) -> dict:
    """``data`` (a rebuilt golden file) with the one field that names this machine's python-flint set to the
    published file's.  The values are exact, so they do not depend on python-flint's version;
    ``generator.python_flint`` records the one the file was made with, the only field a rebuild may change."""
    data["generator"]["python_flint"] = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))["generator"]["python_flint"]
    return data
