"""Optional extras a test needs: without them the test is skipped with the install command, never failed.

With numpy alone (``pip install -e .``) the suite runs what needs no extra (README: "Installing elsewhere").
"""

from __future__ import annotations

import importlib.util

import pytest

#: The report extra: matplotlib (the class HTML report's plots) and PyYAML (Gradescope exports' metadata).
REPORT_MISSING = [m for m in ("matplotlib", "yaml") if importlib.util.find_spec(m) is None]
REPORT_REASON = f"{' and '.join(REPORT_MISSING) or 'nothing'} not installed: pip install 'bpcheck[report]'"

needs_report = pytest.mark.skipif(bool(REPORT_MISSING), reason=REPORT_REASON)


def require_report() -> None:
    """For fixtures, where a mark does not apply."""
    if REPORT_MISSING:
        pytest.skip(REPORT_REASON)
