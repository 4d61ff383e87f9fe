"""Band lookup by boundary: the same band as a scan of the bands, with memory that does not grow
with the range of scores (a table of one entry per score once took 2.8 GB to compile)."""

from __future__ import annotations

import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from recovery_screening.fields import Band, BandTable


def _scan(bands: tuple[Band, ...], score: float) -> str | None:
    return next((b.name for b in bands if b.minimum <= score <= b.maximum), None)


@st.composite
def contiguous_bands(draw: st.DrawFn) -> tuple[Band, ...]:
    low = draw(st.integers(-1000, 1000))
    widths = draw(st.lists(st.integers(0, 50), min_size=1, max_size=8))
    bands = []
    for index, width in enumerate(widths):
        bands.append(Band(f"b{index}", low, low + width))
        low += width + 1
    return tuple(bands)


@given(contiguous_bands(), st.one_of(st.integers(-1200, 1500), st.floats(-1200, 1500)))
def test_band_of_is_the_band_whose_range_holds_the_score(
    bands: tuple[Band, ...], score: float
) -> None:
    assert BandTable(bands).band_of(score) == _scan(bands, score)


def test_a_wide_band_costs_no_memory() -> None:
    tracemalloc.start()
    try:
        table = BandTable((Band("low", 0, 50_000), Band("high", 50_001, 100_000)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024
    assert table.band_of(0) == "low" and table.band_of(50_001) == "high"
    assert table.band_of(100_001) is None and table.band_of(-1) is None
