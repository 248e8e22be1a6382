"""benchmarks/side_by_side.py: the table's ratios and the goal verdicts, computed from given figures
(nothing is timed here)."""

from benchmarks.baselines import Result
from benchmarks.side_by_side import Row, baseline_rows, goals, ours_row, table


def _rows() -> list[Row]:
    return [
        Row("bare", "bare loop", rate={0: 1000.0, 200: 5.0}, cpu_ms={0: 0.5}),
        Row("alertmanager", "Alertmanager", rate={0: 4000.0, 200: 5000.0}),
        Row("pg-enqueue", "ours, PG, enqueue()", rate={0: 500.0, 200: 400.0}, cpu_ms={0: 2.0, 200: 1.5}),
        Row("pg-batch", "ours, PG, batches", rate={0: 900.0, 200: 1100.0}, cpu_ms={0: 1.6, 200: 1.7}),
        Row("rest", "ours, REST", rate={0: 600.0}, cpu_ms={0: 3.0}, extra={"own_ratio": 0.55}),
        Row("bulk", "ours, bulk", rate={0: 800.0}, extra={"drain_ratio": 0.85}),
    ]


def _cells(lines: list[str], method: str) -> list[str]:
    line = next(line for line in lines if line.startswith(method + " "))
    return line[len(method) :].replace("|", " ").split()


def test_the_table_divides_each_rate_by_the_bare_loop_and_alertmanager_at_the_same_latency():
    lines = table(_rows(), [0, 200])
    # deliv/s, x bare, x AM, CPU ms at 0 ms, then the same at 200 ms
    assert _cells(lines, "ours, PG, batches") == [
        "900",
        "0.90x",
        "0.23x",
        "1.60",
        "1,100",
        "220x",
        "0.22x",
        "1.70",
    ]
    assert _cells(lines, "bare loop") == ["1,000", "1.00x", "0.25x", "0.50", "5.0", "1.00x", "0.00x", "-"]


def test_a_row_without_a_latency_prints_dashes_there():
    lines = table(_rows(), [0, 200])
    assert _cells(lines, "ours, REST") == ["600", "0.60x", "0.15x", "3.00", "-", "-", "-", "-"]


def test_without_a_bare_loop_the_ratio_to_it_is_a_dash():
    rows = [row for row in _rows() if row.key != "bare"]
    assert _cells(table(rows, [0]), "ours, PG, batches") == ["900", "-", "0.23x", "1.60"]


def test_the_goals_are_met_or_not_by_the_figures_of_the_run():
    lines = goals(_rows(), [0, 200])
    assert lines[0].startswith("1. ") and "0.600x the bare loop" in lines[0] and lines[0].endswith("-> met")
    assert lines[1].startswith("2. ") and "0.850x" in lines[1] and lines[1].endswith("-> NOT met")
    assert lines[2].startswith("3a. ")
    assert "enqueue() 2.00/1.50 ms NOT met" in lines[2] and "batches 1.60/1.70 ms met" in lines[2]
    assert lines[3].startswith("3b. ") and "1,100/s" in lines[3] and lines[3].endswith("-> met")
    assert lines[4].startswith("3c. ") and "0.225x at 0 ms, 0.220x at 200 ms" in lines[4]
    assert lines[4].endswith("-> met")


def test_a_goal_whose_rows_were_not_run_says_not_measured():
    rows = [row for row in _rows() if row.key in ("bare", "alertmanager")]
    assert all(line.endswith("not measured") for line in goals(rows, [0, 200]))


def test_the_scripts_results_become_rows_keyed_by_latency():
    results = [
        Result("bare loop (1 thread, keep-alive)", 0.0, 3000, 2.0, {"client_cpu_ms_per_post": 0.4}, "bare"),
        Result("bare loop (1 thread, keep-alive)", 200.0, 100, 20.0, {"client_cpu_ms_per_post": 0.9}, "bare"),
        Result("Alertmanager 0.25 webhook", 0.0, 3000, 0.5, {}, "alertmanager"),
    ]
    bare, manager = baseline_rows(results, 3000)
    assert (bare.rate, bare.cpu_ms) == ({0: 1500.0, 200: 5.0}, {0: 0.4, 200: 0.9})
    assert bare.notes == ["100/3000 in the time limit at 200 ms"]
    assert (manager.key, manager.rate, manager.cpu_ms) == ("alertmanager", {0: 6000.0}, {})
    ours = ours_row(
        "pg-batch",
        "ours",
        [{"latency_ms": 200, "actions": 3000, "delivered": 2990, "drain_per_s": 700.0, "cpu_all": 1.8}],
    )
    assert (ours.rate, ours.cpu_ms, ours.notes) == (
        {200: 700.0},
        {200: 1.8},
        ["delivered 2990/3000 at 200 ms"],
    )
