"""Benchmark: the indexed evaluator against the reference interpreter, in the same run.

Not a test: run it by hand (`python bench/run.py`, or `--sizes 10000` for a quick look).
For each portfolio size it generates a portfolio with `pmo-rules generate`, then for the
full policy library and for a cross-entity rule set it prints load time, evaluation time,
rule evaluations per second, peak RSS, and the speed-up over the reference interpreter.
Peak RSS is this process's high-water mark over the load, or over an evaluation's runs
(reset before them through /proc/self/clear_refs, on Linux): with workers, the forked
children share the snapshot's pages with it and are not added in. The
reference is timed on a random sample of subjects and extrapolated per subject (the full
scan of a cross-entity rule at 100k projects would take hours), and then on every subject
where the sample says that takes under two minutes (`--full-reference-under`), as for the
per-project rules; `--full-reference` times it on every subject always. Finally it times
a whole `pmo-rules audit --format json` in a child process, `--repeat` times, and reports
the best wall time (and every one: this machine's speed swings by a third from minute to
minute) and the highest peak RSS.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib.util
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from pmo_rules import api
from pmo_rules.evaluate import RunContext
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.evaluate.indexes import mentions
from pmo_rules.evaluate.reference import _Env, evaluate_subject
from pmo_rules.resources import bundled
from pmo_rules.schema.models import ALL_COLLECTIONS

HERE = Path(__file__).resolve().parent
AS_OF = dt.date(2026, 11, 26)


def generate(n: int, out: Path) -> None:
    if (out / "projects.jsonl").exists():
        return
    subprocess.run([sys.executable, "-m", "pmo_rules", "generate", "--projects", str(n), "--seed", "1",
                    "--output", str(out)], check=True, stdout=subprocess.DEVNULL)


def reset_peak_rss() -> bool:
    """Start a new high-water mark of this process's RSS (Linux); False if it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float | None:
    """This process's RSS high-water mark since the last reset (or its start), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_text(reset: bool) -> str:
    """", peak RSS N MiB" since `reset_peak_rss` (which said `reset`), or nothing if unknown."""
    peak = peak_rss_mib() if reset else None
    return f", peak RSS {peak:,.0f} MiB" if peak is not None else ""


def reference_time(program, snapshot, sample: int | None, seed: int = 7) -> tuple[float, int]:
    """Seconds the reference would take on every subject (extrapolated from a sample)."""
    run = RunContext(snapshot, AS_OF)
    total = 0.0
    evaluations = 0
    rng = random.Random(seed)
    for rule in program.rules:
        subjects = snapshot.collection(rule.for_clause.collection.name)
        chosen = subjects if sample is None or len(subjects) <= sample else rng.sample(subjects, sample)
        params = program.params.get(rule.package, {})
        t0 = time.perf_counter()
        for s in chosen:
            evaluate_subject(rule, s, _Env(program, params, run))
        spent = time.perf_counter() - t0
        if chosen:
            total += spent * len(subjects) / len(chosen)
        evaluations += len(subjects)
    return total, evaluations


def subset(program, keep) -> object:
    """The same checked program with only the rules `keep(rule)` accepts."""
    return dataclasses.replace(program, rules=[r for r in program.rules if keep(r)])


def per_project(rule) -> bool:
    """A rule over projects that reads no other collection (no join, no scan)."""
    if rule.for_clause.collection.name != "projects":
        return False
    exprs = [rule.for_clause.where, *(let.expr for let in rule.lets), *(req.cond for req in rule.requires)]
    return not any(e is not None and mentions(e, c) for e in exprs for c in ALL_COLLECTIONS)


def load_handwritten():
    """bench/handwritten.py: the hand-written Python loop the issue asks us to match."""
    spec = importlib.util.spec_from_file_location("handwritten", HERE / "handwritten.py")
    if spec is None or not (HERE / "handwritten.py").exists():
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def whole_audit(policies: Path, data: Path, workers: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a complete `pmo-rules audit` in a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pmo_rules", "audit", "--policies", str(policies),
                             "--data", str(data), "--as-of", AS_OF.isoformat(), "--format", "json",
                             "--output", os.devnull, "--quiet", "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 1, 3):
        raise SystemExit(f"audit failed with status {status}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--data-dir", default=str(HERE / "data"))
    ap.add_argument("--sample", type=int, default=300, help="subjects per rule timed on the reference")
    ap.add_argument("--full-reference", action="store_true", help="time the reference on every subject")
    ap.add_argument("--full-reference-under", type=float, default=120.0, metavar="SECONDS",
                    help="time the reference on every subject when the sample says it takes less than this"
                         " (a sample's extrapolation swings by a quarter between seeds)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=3,
                    help="time each engine run this many times and keep the best (timings on a shared"
                         " 2-core machine swing by a fifth from run to run)")
    args = ap.parse_args()
    session = api.Session.create()
    library, _ = api.load_program([bundled("policies")], session)
    cross, _ = api.load_program([HERE / "cross_entity.pmo"], session)
    sets = {"library": library, "per-project": subset(library, per_project), "cross-entity": cross}
    handwritten = load_handwritten()
    if handwritten is not None:
        sets["hand-written set"] = subset(library, lambda r: r.id in handwritten.RULES)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; workers for whole audits: {args.workers}")
    for n in [int(s) for s in args.sizes.split(",")]:
        data_dir = Path(args.data_dir) / f"p{n}"
        data_dir.mkdir(parents=True, exist_ok=True)
        generate(n, data_dir)
        loaded = None  # the last size's snapshot goes before this one is loaded
        reset = reset_peak_rss()
        t0 = time.perf_counter()
        loaded = api.load_data([data_dir], session)
        load_s = time.perf_counter() - t0
        recs = loaded.records
        print(f"\n== {n:,} projects ({recs.get('people', 0):,} people, {recs.get('programs', 0):,} programs);"
              f" load {load_s:.2f} s{peak_text(reset)},"
              f" {len(loaded.rejected)} rejected records")
        best = f" (best of {args.repeat})" if args.repeat > 1 else ""
        for name, program in sets.items():
            # The reference is timed once per rule set: its time does not depend on workers.
            ref_s, evaluations = reference_time(program, loaded.snapshot,
                                                None if args.full_reference else args.sample)
            full = args.full_reference or ref_s < args.full_reference_under
            if full and not args.full_reference:
                ref_s, evaluations = reference_time(program, loaded.snapshot, None)
            how = "measured on every subject" if full else f"sampled {args.sample}/rule, extrapolated"
            for workers in (1, args.workers) if args.workers > 1 else (1,):
                fast_s = float("inf")
                reset = reset_peak_rss()
                for _ in range(max(1, args.repeat)):
                    t0 = time.perf_counter()
                    evaluation = IndexedEvaluator(workers).evaluate(program, loaded.snapshot, AS_OF)
                    fast_s = min(fast_s, time.perf_counter() - t0)
                    if evaluation.helper is not None:
                        evaluation.helper.close()  # the worker kept for a report: none is built here
                    del evaluation
                print(f"  {name:<12} {len(program.rules):>2} rules, workers={workers}: evaluate {fast_s:7.2f} s{best}, "
                      f"{evaluations / fast_s:12,.0f} rule evaluations/s{peak_text(reset)}; "
                      f"reference {ref_s:9.1f} s ({how}); speed-up {ref_s / fast_s:7.1f}x")
        if handwritten is not None:
            hand_s = float("inf")
            for _ in range(max(1, args.repeat)):
                t0 = time.perf_counter()
                handwritten.run(loaded.snapshot, AS_OF)
                hand_s = min(hand_s, time.perf_counter() - t0)
            print(f"  hand-written Python loop, the same {len(handwritten.RULES)} rules (bench/handwritten.py):"
                  f" {hand_s:.2f} s{best}")
        runs = [whole_audit(bundled("policies"), data_dir, args.workers) for _ in range(max(1, args.repeat))]
        walls = sorted(wall for wall, _ in runs)
        spread = f" (best of {len(runs)}: {', '.join(f'{w:.2f}' for w in walls)} s)" if len(runs) > 1 else ""
        print(f"  whole `pmo-rules audit --format json` (library, workers={args.workers}): {walls[0]:.2f} s wall"
              f"{spread}, peak RSS {max(rss for _, rss in runs):,.0f} MiB")


if __name__ == "__main__":
    main()
