"""`python3 -m bench`: one command for the whole suite, or one measurement at a time."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this worktree's autoheal

from bench import api, checks, idle, reaction, report, startup, storm  # noqa: E402
from bench.engine import ACTIVE, background_interval  # noqa: E402
from bench.run import Run, bench_run  # noqa: E402
from bench.stats import RESULTS  # noqa: E402

PER_N = ("idle", "startup", "checks", "reaction", "storm")
CHOICES = (*PER_N, "api", "profile", "report")


def _whats(text: str) -> set[str]:
    chosen = {w.strip() for w in text.split(",") if w.strip()}
    if chosen == {"all"}:
        return set(CHOICES)
    unknown = chosen - set(CHOICES)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown measurement {', '.join(sorted(unknown)) or text!r}")
    return chosen


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__.splitlines()[0])
    p.add_argument("what", type=_whats, help=f"all, or a comma list of: {', '.join(CHOICES)}")
    p.add_argument("--n", type=_ints, default=[10, 50, 200], help="container counts, e.g. 10,50,200")
    p.add_argument("--quick", action="store_true", help="short windows and few incidents, to try the suite out")
    p.add_argument("--seconds", type=float, default=None, help="idle and checks window [60; quick 10]")
    p.add_argument("--incidents", type=int, default=None, help="reaction incidents of each kind [20; quick 5]")
    p.add_argument("--storm-parallel", type=_ints, default=[4, 8, 16],
                   help="max_parallel values for the storm; all of them at the largest N, the first elsewhere")
    p.add_argument("--api-n", type=_ints, default=None, help="container counts for the API [--n and 500; quick: --n]")
    p.add_argument("--health-budget", type=float, default=15,
                   help="engine health probes per second for the whole fleet: 5 containers are probed every "
                        "second, the others as often as the budget allows [15; 0: all every second]")
    p.add_argument("--requests", type=int, default=None, help="requests per API endpoint [800; quick 160]")
    return p


def make_fleet(run: Run, n: int, args: argparse.Namespace) -> None:
    """ACTIVE containers probed every second, the rest within the engine's probe budget; all healthy."""
    interval = background_interval(n, args.health_budget)
    print(f"== N={n}: creating containers ({min(n, ACTIVE)} probed every 1 s, the others every {interval:g} s)",
          flush=True)
    run.fleet.add(min(n, ACTIVE))
    if n > ACTIVE:
        run.fleet.add(n - ACTIVE, interval=interval)
    run.fleet.wait_healthy(timeout=120 + 3 * interval)


def per_n(what: set[str], n: int, largest: bool, args: argparse.Namespace) -> None:
    seconds = args.seconds or (10 if args.quick else 60)
    with bench_run(args.quick) as run:
        make_fleet(run, n, args)
        if "idle" in what:
            idle.measure(run, seconds)
        if "startup" in what:
            startup.measure(run, 1 if args.quick else 3)
        if "checks" in what:
            checks.measure(run, seconds)
        if "reaction" in what:
            run.fleet.wait_healthy()
            reaction.measure(run, args.incidents or (5 if args.quick else 20))
        if "storm" in what:
            for parallel in args.storm_parallel if largest else args.storm_parallel[:1]:
                run.fleet.wait_healthy()
                storm.measure(run, parallel)


def api_runs(args: argparse.Namespace) -> None:
    counts = args.api_n or (args.n if args.quick else sorted(set(args.n) | {500}))
    for n in counts:
        with bench_run(args.quick) as run:
            print(f"== API, N={n}", flush=True)
            api.measure(run, n, args.requests or (160 if args.quick else 800))


def profiles(args: argparse.Namespace) -> None:
    n = max(args.n)
    seconds = args.seconds or (10 if args.quick else 60)
    with bench_run(args.quick) as run:
        make_fleet(run, n, args)
        idle.measure(run, seconds, profile=RESULTS / f"profile-idle-n{n}.txt")
        run.fleet.wait_healthy()
        storm.measure(run, args.storm_parallel[0], profile=RESULTS / f"profile-storm-n{n}.txt")
    api_n = max(args.api_n or [500])
    with bench_run(args.quick) as run:
        api.measure(run, api_n, args.requests or (160 if args.quick else 800),
                    profile=RESULTS / f"profile-api-n{api_n}.txt")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.monotonic()
    try:
        if args.what & set(PER_N):
            for n in args.n:
                per_n(args.what, n, n == max(args.n), args)
        if "api" in args.what:
            api_runs(args)
        if "profile" in args.what:
            profiles(args)
        if "report" in args.what:
            report.write_results_md()
    except KeyboardInterrupt:
        print("interrupted; containers and files of this run removed", file=sys.stderr)
        return 130
    print(f"done in {time.monotonic() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
