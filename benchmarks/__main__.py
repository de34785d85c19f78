"""``python -m benchmarks`` (``make bench``): run the suite, print the table, write the JSON."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from instance_rpc.cli import eventloop

from .log_cost import log_line_us_per_call
from .metrics_cost import in_process_us_per_call, measure_metrics_cost
from .report import machine, render, targets
from .state import filesystem_of, prepare_state_root, state_root
from .suite import Settings, run_suite


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per small-call run")
    parser.add_argument("--instances", type=int, default=100_000, help="instances to describe")
    parser.add_argument("--repeats", type=int, default=5, help="DescribeInstances calls per size")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per figure and side")
    parser.add_argument(
        "--provisions", type=int, default=1_000, help="concurrent Provisions to the file backend"
    )
    parser.add_argument(
        "--state-root",
        help="where the file and process backends' state directories go "
        "(default: the state root serve uses, ~/.local/state/instance-rpc; "
        "see benchmarks/state.py)",
    )
    parser.add_argument("--output", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    try:  # before minutes of measurements, not after them
        prepare_state_root(args.state_root)
    except OSError as exc:
        parser.error(f"--state-root: cannot use {exc.filename}: {exc.strerror or exc}")
    settings = Settings(
        duration=args.duration,
        instances=args.instances,
        describe_repeats=args.repeats,
        rounds=args.rounds,
        provisions=args.provisions,
        state_root=args.state_root,
    )
    results = eventloop.run(run_suite(settings))
    results.metrics = eventloop.run(measure_metrics_cost(settings))
    results.metrics_in_process_us = eventloop.run(in_process_us_per_call())
    results.log_line_us = log_line_us_per_call(lines=max(640, int(10_000 * args.duration)))
    info = machine()
    info["loop"] = eventloop.loop_name()
    info["state_root"] = str(state_root(args.state_root))
    info["state_filesystem"] = filesystem_of(info["state_root"])
    print(render(results, info))
    document = {
        "machine": info,
        "settings": {
            **asdict(settings),
            "picked": settings.picked,
            "process_instances": settings.process_instances,
        },
        **results.as_dict(),
        "targets": [asdict(target) for target in targets(results)],
    }
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
