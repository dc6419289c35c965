"""docs/scaling.md cannot rot: its tables are the model's output, and the model's inputs are the benchmarks'.

The model (``bench.scaling_model``) is pure Python and runs in seconds.  A
reader of the page relies on the arrivals adding up to the show, on more
lanes or appliances never making the wait longer, on every input having a
source, and on the measured inputs being the figures in docs/benchmarks.md
today.
"""

from __future__ import annotations

import pytest

from bench import scaling_model as m

ROOT = m.ROOT
BENCHMARKS = m.BENCHMARKS


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}") + 1
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_page_is_what_the_model_prints() -> None:
    page = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    assert m.generated_section(page) == m.render(), (
        "docs/scaling.md is out of date: run .venv/bin/python -m bench.scaling_model --write"
    )


def test_the_model_runs_on_the_last_benchmark_run() -> None:
    """Every measured input is found in today's docs/benchmarks.md, and its run is the one named."""
    page = BENCHMARKS.read_text(encoding="utf-8")
    values = m.measured_inputs(page)
    assert set(values) == set(m.MEASURED)
    for name, value in values.items():
        assert getattr(m, name) == pytest.approx(value, rel=1e-9), name
        assert m.MEASURED[name][0] in m.SOURCES[name][1]
    assert m.bench_run(page) == m.BENCH_RUN


def test_a_benchmarks_page_of_another_shape_is_a_clear_error() -> None:
    page = BENCHMARKS.read_text(encoding="utf-8").replace(
        "append latency, median (synchronous=FULL)", "append"
    )
    with pytest.raises(ValueError, match="LOCAL_APPEND_MS"):
        m.measured_inputs(page)


def test_every_input_has_a_source() -> None:
    inputs = {
        name for name, value in vars(m).items() if name.isupper() and isinstance(value, int | float | tuple)
    }
    assert inputs == set(m.SOURCES)
    assert set(m.MEASURED) <= set(m.SOURCES)


def test_arrivals_add_up_to_the_show() -> None:
    for fraction in (0.60, m.BURST_FRACTION, m.BURST_FRACTION_HIGH):
        steps = m.arrivals(fraction)
        assert sum(steps) == pytest.approx(m.ATTENDEES, abs=1e-6)
        assert sum(steps[: round(m.BURST_MIN * 60 / m.STEP_S)]) == pytest.approx(m.ATTENDEES * fraction)
        assert min(steps) >= 0


def test_everyone_gets_in_and_the_box_is_never_the_limit() -> None:
    for handling in m.HANDLING_SWEEP_S:
        for lanes in m.LANES_SWEEP:
            gates = m.simulate(lanes, handling)
            assert gates.served * m.APPLIANCES == pytest.approx(m.ATTENDEES)
            assert gates.peak_scans_per_s <= gates.capacity_per_s + 1e-9
            assert gates.peak_scans_per_s < m.SCAN_C16_PER_S / 100


def test_more_appliances_or_lanes_never_lengthen_the_wait() -> None:
    waits = [m.simulate(m.LANES_PER_APPLIANCE, m.HANDLING_S, n).max_wait_s for n in range(10, 81, 5)]
    assert waits == sorted(waits, reverse=True)
    assert waits[0] > waits[-1] == 0
    by_lanes = [m.simulate(k, m.HANDLING_S).max_wait_s for k in range(1, 21)]
    assert by_lanes == sorted(by_lanes, reverse=True)
    by_handling = [m.simulate(m.LANES_PER_APPLIANCE, h).max_wait_s for h in (3.0, 4.0, 5.0, 6.0)]
    assert by_handling == sorted(by_handling)


def test_lanes_needed_is_the_fewest_that_meet_the_target() -> None:
    for handling in m.HANDLING_SWEEP_S:
        lanes = m.lanes_needed(600, handling)
        assert m.simulate(lanes, handling).max_wait_s <= 600 < m.simulate(lanes - 1, handling).max_wait_s


def test_erlang_c_matches_m_m_1() -> None:
    arrival, handling = 0.15, 5.0  # one lane, 75 % busy
    rho = arrival * handling
    assert m.erlang_c_wait(arrival, 1, handling) == pytest.approx(rho / (1 / handling - arrival))
    assert m.erlang_c_wait(1.0, 4, 5.0) is None  # 5 busy lanes' worth of people for 4 lanes
