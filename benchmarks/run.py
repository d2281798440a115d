"""Run the benchmarks and print a summary; JSON results go to benchmarks/results/ (git-ignored).

python -m benchmarks.run                  # everything (what `make bench` runs), ~10 min, plus
                                          # ~1.5 min the first time to build the 1M catalog
python -m benchmarks.run --quick          # smaller catalogs, fewer samples, short wrk runs
python -m benchmarks.run --only list      # one benchmark (repeatable): list, search, upload, serve,
                                          # access_counts,
                                          # and on the AWS emulators amplification, list_dynamodb,
                                          # requests, coldstart
python -m benchmarks.run --markdown       # also print the tables as Markdown
python -m benchmarks.run --results DIR    # write the JSON there instead (tests/benchmarks does)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import (
    bench_access_counts,
    bench_amplification,
    bench_coldstart,
    bench_imaging,
    bench_list,
    bench_list_dynamodb,
    bench_memory,
    bench_renditions,
    bench_requests,
    bench_search,
    bench_search_dynamodb,
    bench_serve,
    bench_upload,
)
from benchmarks.common import (
    RESULTS_DIR,
    ROOT,
    Config,
    Result,
    machine_info,
    render_markdown,
    render_text,
    write_json,
)

BENCHMARKS: dict[str, ModuleType] = {
    "list": bench_list,
    "search": bench_search,
    "upload": bench_upload,
    "imaging": bench_imaging,
    "memory": bench_memory,
    "renditions": bench_renditions,
    "serve": bench_serve,
    "access_counts": bench_access_counts,
    "amplification": bench_amplification,
    "list_dynamodb": bench_list_dynamodb,
    "requests": bench_requests,
    "coldstart": bench_coldstart,
    "search_dynamodb": bench_search_dynamodb,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only this one")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small and short")
    parser.add_argument(
        "--list-size", type=int, default=None, help="images in the list and search catalog (1,000,000)"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached list catalog")
    parser.add_argument("--wrk-seconds", type=int, default=None, help="duration of each wrk run (10)")
    parser.add_argument("--wrk-rounds", type=int, default=None, help="wrk runs per server (3)")
    parser.add_argument("--uploads", type=int, default=None, help="uploads per row (30)")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown too")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> Config:
    base = Config(quick=args.quick)
    if args.quick:
        base = dataclasses.replace(base, list_size=100_000, wrk_seconds=3, wrk_rounds=1, uploads=8)
    overrides = {
        "list_size": args.list_size,
        "rebuild": args.rebuild or None,
        "wrk_seconds": args.wrk_seconds,
        "wrk_rounds": args.wrk_rounds,
        "uploads": args.uploads,
    }
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


def log(message: str) -> None:
    print(message, flush=True)


def run_one(name: str, module: ModuleType, cfg: Config) -> Result:
    runner: Callable[[Config, Callable[[str], None]], Result] = module.run
    started = time.perf_counter()
    load_before = os.getloadavg()
    log(f"== {name} (load average {load_before[0]:.2f})")
    try:
        result = runner(cfg, log)
    except Exception as exc:
        traceback.print_exc()
        result = Result(name, status="error", reason=f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - started
    result.details["loadavg_before"] = load_before
    result.details["loadavg_after"] = os.getloadavg()
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = config_from(args)
    names = args.only or list(BENCHMARKS)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    machine = machine_info()
    log(f"machine: {machine['nproc']} cpu ({machine['cpu']}), {machine['mem_gib']} GiB, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}, load {machine['loadavg']}")  # fmt: skip
    results: list[Result] = [run_one(name, BENCHMARKS[name], cfg) for name in names]

    payload: dict[str, Any] = {
        "started": stamp,
        "config": dataclasses.asdict(cfg),
        "machine": machine,
        "machine_after": {"loadavg": machine_info()["loadavg"]},
        "results": [r.as_dict() for r in results],
    }
    path = args.results / f"bench-{stamp}{'-quick' if cfg.quick else ''}.json"
    write_json(path, payload)
    write_json(args.results / "latest.json", payload)

    log("\n================ summary ================")
    for result in payload["results"]:
        load = result["details"].get("loadavg_before", (float("nan"),))[0]
        status = f"{result['status']} ({result['seconds']}s, load {load:.2f}) {result['reason']}"
        log(f"\n## {result['name']}: {status.rstrip()}")
        for table in result["tables"]:
            log(render_text(table) + "\n")
            if args.markdown:
                log(render_markdown(table))
        for target in result["targets"]:
            mark = "MET   " if target["met"] else "NOT MET"
            log(f"  [{mark}] {target['what']}: target {target['target']}, measured {target['measured']}")
    log(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 1 if any(r.status == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
