"""The figures every report and benchmark table prints."""

from __future__ import annotations

import math

from sim.fleet.figures import markdown_row, median, number, per_second, ratio, us_per_message


def test_rates_of_an_empty_window_are_missing() -> None:
    assert per_second(300, 2.0) == 150.0
    assert per_second(300, 0.0) is None
    assert us_per_message(0.5, 1000) == 500.0
    assert us_per_message(0.5, 0) is None


def test_medians_leave_out_what_was_not_measured() -> None:
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([None, None]) is None


def test_numbers_ratios_and_rows_as_the_tables_print_them() -> None:
    assert number(12345.678) == "12,345.7"
    assert number(12345.678, 0) == "12,346"
    assert number(None) == "n/a"
    assert number(math.inf, missing="-") == "-"
    assert ratio(3.0, 2.0) == "1.50x"
    assert ratio(3.0, 0.0) == ratio(None, 2.0) == "n/a"
    assert markdown_row(["voltmesh/baseline", "saturate", "", "1.96x", ""]) == (
        "| voltmesh/baseline | saturate | | 1.96x | |"
    )
