"""bench/run.py's arithmetic and reporting, on a made-up run (no emulators, no child processes)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from bench.run import markdown, merged_stages, summarise, update_readme  # noqa: E402


def _stage(wall: float, calls: dict, rss: float = 150.0, **extra) -> dict:
    counted = {"liveperson": 0, "ours": 0, "naive": 0, "bulk1": 0, **calls}
    return {
        "wall_s": wall,
        "cpu_s": wall / 2,
        "emulator_cpu_s": 1.0,
        "rss_before_mb": 130.0,
        "peak_rss_mb": rss,
        "emulator_calls": counted,
        **extra,
    }


def made_up_run() -> dict:
    return {
        "extract": _stage(20.0, {"liveperson": 700}, paths=[], records=23000),
        "transform": _stage(
            10.0, {"ours": 1}, rows=20_000, transform_files_wall_s=9.0, transform_files_cpu_s=9.0
        ),
        "load": _stage(10.0, {"ours": 20}, rss=200.0, mode="bulk", failed=0),
        "floor": _stage(
            4.0,
            {},
            raw_records=23000,
            rows=20_000,
            columns=39,
            csv_mb=47.0,
            decode_wall_s=3.0,
            decode_cpu_s=3.0,
            csv_wall_s=1.0,
            csv_cpu_s=1.0,
            our_csv_wall_s=1.0,
            our_csv_cpu_s=1.0,
        ),
        "naive": _stage(5.0, {"naive": 2000}, sample=2000, failed=0),
        "bulk1": _stage(
            40.0,
            {"bulk1": 50},
            rows=20_000,
            failed=3,
            errors={"STRING_TOO_LONG": 3},
            payload_mb=60.0,
            result_xcom_mb=2.0,
        ),
    }


def test_summary_ratios_scale_the_naive_sample_to_all_rows():
    summary = summarise(made_up_run(), "field")
    assert summary["conversations"] == 20_000
    assert summary["conversations_per_s"] == 500.0  # 20,000 rows / 40 s
    assert summary["naive"]["salesforce_calls"] == 20_000 and summary["naive"]["extrapolated"]
    assert summary["naive"]["wall_s"] == 50.0  # 5 s for 2,000 rows, x10
    assert summary["sf_calls_vs_naive"] == 1000.0  # 20,000 / 20
    assert summary["speed_vs_naive"] == 5.0  # 50 s / 10 s
    assert summary["floor_ratio"] == 2.5  # (9 + 1) / (3 + 1)
    assert summary["salesforce_calls_per_10k"] == 10.5  # (1 + 20) per 20,000
    assert summary["bulk1"]["failed"] == 3 and not summary["bulk1"]["extrapolated"]


def test_markdown_marks_targets_and_extrapolation():
    report = {
        "command": "python bench/run.py",
        "machine": {"cpu": "X", "cores": 2, "memory_gib": 8, "python": "3.11", "date": "today"},
        "results": made_up_run(),
    }
    report["summary"] = summarise(report["results"], "field")
    text = markdown(report)
    assert "extrapolated from n=2,000" in text
    assert "| load time, baseline (a) / ours | 5.0x | >= 5x | met |" in text
    assert "payload through XCom 60.0 MB" in text
    assert "**ratio (ours / floor)** | **2.50x**" in text


def test_readme_block_is_replaced_or_appended(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# bench\n\n<!-- results:latest:start -->\nold\n<!-- results:latest:end -->\n")
    update_readme("new table\n", "latest", readme)
    assert "old" not in readme.read_text() and "new table" in readme.read_text()
    update_readme("big table\n", "latest-100k", readme)
    text = readme.read_text()
    assert "new table" in text and text.index("new table") < text.index("big table")
    assert "<!-- results:latest-100k:end -->" in text


def test_shards_of_a_stage_add_up_and_keep_the_largest_peak():
    shards = [
        _stage(10.0, {"ours": 25}, rss=230.0, rows=16_000, failed_path=None),
        _stage(4.0, {"ours": 12}, rss=190.0, rows=6_000, failed_path="x"),
    ]
    shards[1]["optional"] = None
    shards[0]["optional"] = 3
    merged = merged_stages(shards)
    assert merged["rows"] == 22_000 and merged["wall_s"] == 14.0
    assert merged["emulator_calls"]["ours"] == 37
    assert merged["peak_rss_mb"] == 230.0 and merged["rss_before_mb"] == 130.0
    assert merged["optional"] == 3 and merged["failed_path"] is None
