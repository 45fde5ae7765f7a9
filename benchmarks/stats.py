"""Medians and ratios: the only statistics the reports use."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, or None when either is missing (a failed measurement is not a zero)."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def paired_ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Ratio of each A run to the B run beside it (drift between pairs cancels)."""
    return [x / y for x, y in zip(a, b, strict=False) if y]


def summary(a: Sequence[float], b: Sequence[float]) -> dict[str, object]:
    """Runs, medians and both ratios of one A/B comparison, for the JSON results."""
    median_a, median_b = median(a), median(b)
    return {
        "prodserver": list(a),
        "native": list(b),
        "prodserver_median": median_a,
        "native_median": median_b,
        "ratio": ratio(median_a, median_b),
        "paired_ratio_median": median(paired_ratios(a, b)),
    }
