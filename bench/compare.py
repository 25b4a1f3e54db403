"""Interleaved A/B(/C) runs of the two benchmarks against several checkouts of Slotbook.

    python bench/compare.py --rounds 5 --seconds 8 --requests 30

Each run is ``<tree>/.venv/bin/python bench/<script>.py ... --json FILE`` started from this
directory's scripts: the interpreter is the tree's, so ``slotbook`` (migrations, the
server binary ``<tree>/.venv/bin/slotbook``) is that tree's code, while the benchmark
itself is the same for every version. Order: grid_benchmark BEFORE, AFTER, BEFORE, AFTER
...; then booking_throughput BEFORE, PRE_WAITLIST, AFTER, BEFORE, ... ; ``uptime`` is recorded
before each run. Every run's figures and its statement count go to one JSON file under
bench/results/ (rewritten after each run), and the medians per version are printed.
``--summarize FILE`` prints the tables of an earlier file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TREES = {
    "BEFORE": Path("/work/before"),
    # The round's storage and notification work, before party sizes and the waitlist.
    "PRE_WAITLIST": Path("/work/pre-waitlist"),
    "AFTER": Path("/work/main"),
}
BOOKING_ORDER = ("BEFORE", "PRE_WAITLIST", "AFTER")
GRID_ORDER = ("BEFORE", "PRE_WAITLIST", "AFTER")


def git_head(tree: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def run_one(kind: str, version: str, command_args: list[str], logs: Path, n: int) -> dict[str, Any]:
    tree = TREES[version]
    script = "booking_throughput.py" if kind == "booking" else "grid_benchmark.py"
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    command = [str(tree / ".venv" / "bin" / "python"), str(BENCH / script), *command_args]
    record: dict[str, Any] = {
        "kind": kind,
        "version": version,
        "tree": str(tree),
        "commit": git_head(tree),
        "command": " ".join(command),
        "uptime_before": uptime(),
        "started": f"{datetime.now(UTC):%H:%M:%S} UTC",
    }
    print(f"[{record['started']}] {kind} {version} #{n}  ({record['uptime_before']})", flush=True)
    log = logs / f"{kind}-{n:02d}-{version}.log"
    began = time.monotonic()
    with log.open("w") as output:
        process = subprocess.run(
            [*command, "--json", str(out)], cwd=BENCH.parent, stdout=output,
            stderr=subprocess.STDOUT, check=False, timeout=900,
        )  # fmt: skip
    record["wall_seconds"] = round(time.monotonic() - began, 1)
    record["returncode"] = process.returncode
    record["log"] = str(log)
    try:
        record["figures"] = json.loads(out.read_text())
    except (OSError, ValueError):
        record["figures"] = None
        print(f"   no figures (exit {process.returncode}); see {log}", flush=True)
    out.unlink(missing_ok=True)
    return record


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(s: dict[str, float], digits: int = 1) -> str:
    return f"{s['median']:,.{digits}f} ({s['min']:,.{digits}f}-{s['max']:,.{digits}f})"


def statements_of(runs: list[dict[str, Any]]) -> str:
    counts = [r["figures"]["statements"] for r in runs if r["figures"].get("statements")]
    if not counts:
        return "-"
    per = sorted({round(c["per_request"], 2) for c in counts})
    ping = sorted({round(c["pre_ping_per_request"], 2) for c in counts})
    return f"{'/'.join(f'{p:g}' for p in per)} (pre-ping {'/'.join(f'{p:g}' for p in ping)})"


def summarize(data: dict[str, Any]) -> str:
    lines: list[str] = []
    booking = [r for r in data["runs"] if r["kind"] == "booking" and r["figures"]]
    grid = [r for r in data["runs"] if r["kind"] == "grid" and r["figures"]]
    medians: dict[str, Any] = {"booking": {}, "grid": {}}
    if booking:
        lines += [
            "booking_throughput: median (min-max) per version",
            "",
            "| run | version | runs | ok/s | p50 ms | p99 ms | server CPU/req ms "
            "| statements/booking |",
            "|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for key in ("a", "b", "c", "d", "e_promote", "e_plain"):
            for version in BOOKING_ORDER:
                runs = [
                    r
                    for r in booking
                    if r["version"] == version and key in r["figures"]["runs"]
                ]
                if not runs:
                    continue
                figs = [r["figures"]["runs"][key] for r in runs]
                rate = spread([f["rate"] for f in figs])
                p50 = spread([f["p50_ms"] for f in figs])
                p99 = spread([f["p99_ms"] for f in figs])
                cpu_values = [f["server_cpu_ms_per_request"] for f in figs]
                cpu = spread(cpu_values) if None not in cpu_values else None
                medians["booking"].setdefault(key, {})[version] = {
                    "rate": rate, "p50_ms": p50, "p99_ms": p99, "cpu_ms": cpu,
                }  # fmt: skip
                label = key.replace("_", " ")
                lines.append(
                    f"| ({label}) | {version} | {len(runs)} | {fmt(rate, 0)} | {fmt(p50)} "
                    f"| {fmt(p99)} | {fmt(cpu, 2) if cpu else '-'} "
                    f"| {statements_of(runs) if key == 'b' else ''} |"
                )
        lines.append("")
    if grid:
        lines += [
            "grid_benchmark: median (min-max) per version",
            "",
            "| grid | version | runs | p50 ms | p99 ms | statements/grid |",
            "|---|---|---:|---:|---:|---|",
        ]
        for days in ("1", "7", "31"):
            for version in GRID_ORDER:
                runs = [r for r in grid if r["version"] == version]
                if not runs:
                    continue
                figs = [r["figures"]["grids"][days] for r in runs]
                p50 = spread([f["p50_ms"] for f in figs])
                p99 = spread([f["p99_ms"] for f in figs])
                medians["grid"].setdefault(days, {})[version] = {"p50_ms": p50, "p99_ms": p99}
                lines.append(
                    f"| {days} day(s) | {version} | {len(runs)} | {fmt(p50)} | {fmt(p99)} "
                    f"| {statements_of(runs) if days == '7' else ''} |"
                )
        lines.append("")
    data["medians"] = medians
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0, help="booking_throughput --seconds")
    parser.add_argument("--requests", type=int, default=30, help="grid_benchmark --requests")
    parser.add_argument(
        "--naive-requests", type=int, default=2, help="grid_benchmark --naive-requests"
    )
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="compare these checkouts (each with its own .venv), in this order, instead of "
        "the default trees",
    )
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--skip-booking", action="store_true")
    parser.add_argument("--out", help="JSON file (default bench/results/compare-<time>.json)")
    parser.add_argument("--summarize", help="print the tables of an earlier JSON file and exit")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(json.loads(Path(args.summarize).read_text())))
        return 0

    global BOOKING_ORDER, GRID_ORDER
    if args.tree:
        TREES.clear()
        for item in args.tree:
            name, _, path = item.partition("=")
            TREES[name] = Path(path)
        BOOKING_ORDER = GRID_ORDER = tuple(TREES)

    results_dir = BENCH / "results"
    stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
    out = Path(args.out) if args.out else results_dir / f"compare-{stamp}.json"
    logs = results_dir / f"logs-{stamp}"
    logs.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "started": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
        "argv": sys.argv,
        "trees": {v: {"path": str(t), "commit": git_head(t)} for v, t in TREES.items()},
        "runs": [],
    }

    def save() -> None:
        out.write_text(json.dumps(data, indent=2))

    n = 0
    if not args.skip_grid:
        grid_args = ["--requests", str(args.requests), "--naive-requests", str(args.naive_requests)]
        for _ in range(args.rounds):
            for version in GRID_ORDER:
                n += 1
                data["runs"].append(run_one("grid", version, grid_args, logs, n))
                save()
    if not args.skip_booking:
        booking_args = ["--seconds", str(args.seconds)]
        for _ in range(args.rounds):
            for version in BOOKING_ORDER:
                n += 1
                data["runs"].append(run_one("booking", version, booking_args, logs, n))
                save()
    data["finished"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    print()
    print(summarize(data))
    save()
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
