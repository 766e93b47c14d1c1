"""tools/bench.py's bookkeeping: medians, ratios, target verdicts, the table, the CLI.

The workloads themselves need the real systems (``make bench``); what is
tested here is what turns runs into the published verdicts, where a flipped
comparison would report a miss as met.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH_PATH = Path(__file__).resolve().parents[2] / "tools" / "bench.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("minikafka_bench", BENCH_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench = _load()


def run(messages: int, seconds: float, latencies: list[float] | None = None,
        **extra: float) -> object:
    return bench.Run(messages, messages * 100, seconds, latencies or [], 0.5, extra)


def test_percentile_is_nearest_rank() -> None:
    values = [float(number) for number in range(1, 101)]
    assert bench.percentile(values, 0.50) == 50.0
    assert bench.percentile(values, 0.99) == 99.0
    assert bench.percentile([7.0], 0.99) == 7.0


def test_row_summary_takes_medians_and_leaves_out_failed_runs() -> None:
    row = bench.Row("P1", "produce", bench.MK_FILE, [
        run(1000, 1.0, [0.001, 0.002]), run(1000, 2.0, [0.003]), run(1000, 4.0, [0.005]),
        bench.Run(error="RuntimeError: broker gone"),
    ])
    summary = row.summary()
    assert summary["messages_per_s"] == 500.0
    assert summary["mb_per_s"] == pytest.approx(0.05)
    assert summary["p50_ms"] == pytest.approx(3.0)
    assert summary["failed_runs"] == 1
    assert summary["errors"] == ["RuntimeError: broker gone"]


def test_ratios_compare_with_the_reference_row_of_the_same_run() -> None:
    ours = bench.Row("P3", "send_many", bench.MK_FILE, [run(3000, 1.0)] * 3)
    redis = bench.Row("P3", "XADD", bench.REDIS, [run(1000, 1.0)] * 3)
    bench.compare_to([ours, redis], bench.REDIS, "messages_per_s")
    assert ours.ratio == pytest.approx(3.0)
    assert ours.reference == bench.REDIS
    assert redis.ratio is None


def verdicts(rows: list[object]) -> dict[str, bool | None]:
    return {f"{target.workload} {target.description}": target.met
            for target in bench.targets(rows) if target.system == bench.MK_FILE}


def test_throughput_targets_need_the_ratio_at_or_above_the_bar() -> None:
    rows = []
    for workload, ours in (("P1", 1000), ("P3", 2999)):
        mine = bench.Row(workload, "x", bench.MK_FILE, [run(ours, 1.0)] * 3)
        other = bench.TANSU if workload == "P1" else bench.REDIS
        reference = bench.Row(workload, "x", other, [run(1000, 1.0)] * 3)
        bench.compare_to([mine, reference], other, "messages_per_s")
        rows += [mine, reference]
    found = verdicts(rows)
    assert found["P1 >= 1.0x tansu (msgs/s)"] is True
    assert found["P3 >= 3.0x redis (msgs/s)"] is False


def test_latency_and_resource_targets_are_upper_bounds() -> None:
    p6 = bench.Row("P6", "e2e", bench.MK_FILE, [run(10, 1.0, [0.001] * 98 + [0.003] * 2)] * 3)
    p6_redis = bench.Row("P6", "e2e", bench.REDIS, [run(10, 1.0, [0.001] * 100)] * 3)
    bench.compare_to([p6, p6_redis], bench.REDIS, "p50_ms")
    s2 = bench.Row("S2", "rss", bench.MK_FILE, [run(10, 1.0, rss_mb=151.0)] * 3)
    s3 = bench.Row("S3", "restart after kill -9", bench.MK_FILE, [run(0, 1.0, restart_s=2.0)] * 3)
    found = verdicts([p6, p6_redis, s2, s3])
    assert found["P6 p50 <= 1.2x Redis"] is True
    assert found["P6 p99 <= 2 ms"] is False  # the 99th of 100 is 3 ms
    assert found["S2 RSS <= 150 MB"] is False
    assert found["S3 restart after kill -9 <= 10 s"] is True


def test_a_workload_without_figures_is_not_judged_met() -> None:
    failed = bench.Row("P1", "x", bench.MK_FILE, [bench.Run(error="boom")] * 3)
    tansu = bench.Row("P1", "x", bench.TANSU, [run(1000, 1.0)] * 3)
    bench.compare_to([failed, tansu], bench.TANSU, "messages_per_s")
    assert verdicts([failed, tansu]) == {"P1 >= 1.0x tansu (msgs/s)": None}


def test_s4_counts_errors_and_losses_of_both_rows() -> None:
    crowd = bench.Row("S4", "100 producers + 100 consumers", bench.MK_FILE,
                      [run(1000, 1.0, errors=0.0, lost=0.0)] * 3)
    crowd.ratio = 0.9
    pair = bench.Row("S4", "1 producer + 1 consumer", bench.MK_FILE,
                     [run(1000, 1.0, errors=0.0, lost=2.0)] * 3)
    found = verdicts([crowd, pair])
    assert found["S4 >= 0.8x one producer + one consumer"] is True
    assert found["S4 no errors, nothing lost"] is False


def test_table_has_one_line_per_row_and_shows_failures() -> None:
    rows = [bench.Row("P1", "produce", bench.MK_FILE, [run(1000, 0.5)] * 3),
            bench.Row("P2", "consume", bench.MK_MEMORY, [bench.Run(error="RuntimeError: x")] * 3)]
    lines = bench.table(rows).splitlines()
    assert len(lines) == 2 + len(rows)
    assert "2,000" in lines[2]
    assert "3 run(s) failed: RuntimeError: x" in lines[3]


def test_cli_refuses_unknown_workloads_and_too_few_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.parse_arguments(["--only", "p1, s2"]).only == ["P1", "S2"]
    for arguments in (["--only", "P9"], ["--runs", "2"]):
        with pytest.raises(SystemExit):
            bench.parse_arguments(arguments)
    assert "P9" in capsys.readouterr().err


def test_values_are_distinct_lines_of_100_bytes() -> None:
    values = bench.make_values(1000, tag=3)
    assert len(set(values)) == 1000
    assert {len(value) for value in values} == {100}
    assert not any(b"\n" in value for value in values)
