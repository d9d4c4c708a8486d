"""Similarity groups measured on a generated class: precision and recall of the planted copies, and the time.

    python bench/similarity.py

The class comes from tests/similarity_class.py (which submission copies which is known from how it was made).
Pairs are counted: a pair is predicted when its two submissions share a code group, true when one copies the other
or both copy the same author.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bpcheck.grader.fingerprint import fingerprint  # noqa: E402
from bpcheck.grader.results import Result  # noqa: E402
from bpcheck.grader.similarity import groups  # noqa: E402
from tests.similarity_class import ALL_STYLES, DISTINCT_PASSES, make_class  # noqa: E402


def measure(sources: list[str], author: list[int]) -> tuple[int, int, int, float, float]:
    """(true pairs, predicted pairs, true positives, seconds fingerprinting, seconds grouping)."""
    t0 = time.perf_counter()
    results = [Result(f"s{i}", "pass", 1.0, 1.0, id=f"s{i}", similarity=fingerprint(s.encode()).as_dict())
               for i, s in enumerate(sources)]
    t1 = time.perf_counter()
    found = [g for g in groups(results) if g.kind == "code"]
    t2 = time.perf_counter()
    predicted = {tuple(sorted(int(r.id[1:]) for r in pair)) for g in found for pair in itertools.combinations(g.members, 2)}
    true = {(i, j) for i, j in itertools.combinations(range(len(sources)), 2) if author[i] == author[j]}
    return len(true), len(predicted), len(predicted & true), t1 - t0, t2 - t1


def line(name: str, t: int, p: int, tp: int, fp_s: float, g_s: float) -> str:
    return (f"| {name} | {t} | {p} | {tp / p if p else 1:.3f} | {tp / t if t else 1:.3f} | {fp_s:.2f} | {g_s:.2f} |")


def main() -> None:
    print("| class | true pairs | predicted pairs | precision | recall | fingerprint s | group s |")
    print("|---|---|---|---|---|---|---|")
    total = [0, 0, 0, 0.0, 0.0]
    for seed in range(10):
        for k, v in enumerate(measure(*make_class(12, 12, 2, seed, DISTINCT_PASSES))):
            total[k] += v
    print(line("12 authors, forward and backward passes all different, each copied twice; 10 seeds", *total))
    print(line("36 authors, 36 styles (some share a whole pass), 12 copied twice", *measure(*make_class(36, 12, 2, 0))))
    print(line("1,000: 800 authors cycling 36 styles, 100 copied twice", *measure(*make_class(800, 100, 2, 0, ALL_STYLES))))


if __name__ == "__main__":
    main()
