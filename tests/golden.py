"""Checking a float against a published figure, to the digits the source printed."""

from decimal import Decimal


def assert_printed(value: float, printed: str, what: str = "") -> None:
    """|value − printed| ≤ half a unit in the printed figure's last place (what rounding to those digits allows)."""
    exponent = Decimal(printed).as_tuple().exponent
    half_ulp = 0.5 * 10.0**exponent
    assert abs(value - float(printed)) <= half_ulp, f"{what}: computed {value!r}, published {printed} (allowed ±{half_ulp:g})"
