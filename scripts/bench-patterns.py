#!/usr/bin/env python3
"""Benchmark the pattern engine against the LogHub-2k ground truth, next to Drain3 (default settings).

For each data set, the Content column (in LineId order) is piped through --cmd, one record per line;
the command must print one pattern id per input line. Predictions are written to OUT/<X>.csv
(LineId,predicted_group) and scored with eval_ga.py (GA, FGA). Drain3 runs in-process in the same
run, streaming line by line with its default configuration, when it is importable (see
scripts/bench-patterns.sh, which installs it into .venv-bench).

Speed figures:
  ours, wall   = lines / wall-clock seconds of the whole process (start-up, I/O and parsing
                 included; best of --runs runs) -- the conservative number.
  ours, engine = lines / seconds spent inside Engine calls, as reported on stderr by the command
                 when CAUSELOOP_PATTERNS_TIMING=1 (the bundled example does; other commands may not).
  Drain3       = lines / seconds spent in TemplateMiner.add_log_message (in-process, best of --runs).

--synthetic N additionally feeds N synthetic records (lines drawn from the eight data sets with
their numbers re-drawn, seeded) to the `state` example and reports time and serialized state size.

--speed N feeds N lines -- the eight data sets' lines, set after set, repeated until there are N --
to the command and to Drain3, and compares the wall clock of the whole command process (start-up,
I/O and parsing included) with Drain3's in-process time (add_log_message for every line): lines/s
of each and the ratio, best of --runs.

--loso runs leave-one-system-out tuning of the engine's parameters (--set NAME=VALUE, over the
grid in LOSO_GRID): for each data set, the configuration with the best mean (GA+FGA)/2 on the
other seven is chosen and scored on the held-out one; the mean of the held-out scores is the
estimate of how the engine does on a system it has never seen. It also reports the configuration
that the same rule picks on all eight, and the default configuration's own scores.

--incidents scores bench/patterns/incidents/incidents.csv (alert and incident titles; see its
PROVENANCE.md) with the command and with Drain3.
"""
import argparse
import csv
import itertools
import importlib.util
import os
import random
import re
import subprocess
import sys
import tempfile
import time

DATASETS = ["HDFS", "Hadoop", "Spark", "BGL", "HPC", "Linux", "HealthApp", "OpenStack"]
# Parameter grid of --loso (names as causeloop_patterns::Config::set takes them). Each list runs
# from the most general value to the most conservative, and the first combination is preferred on
# ties: where the data cannot tell two settings apart, generalise more (over-splitting is the
# failure seen on systems the engine has not met).
LOSO_GRID = {
    "distinct_values": [3, 4, 5, 6],
    "max_differing": [3, 2, 1],
    "max_differing_percent": [100, 50, 40, 34, 25, 20],
}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")

csv.field_size_limit(sys.maxsize)


def load_eval(bench_root):
    spec = importlib.util.spec_from_file_location("eval_ga", os.path.join(bench_root, "eval_ga.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def dataset_path(bench_root, name):
    if name == "incidents":
        return os.path.join(bench_root, "incidents", "incidents.csv")
    return os.path.join(bench_root, "loghub2k", name, f"{name}_2k.log_structured.csv")


def load_dataset(bench_root, name):
    path = dataset_path(bench_root, name)
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: int(r["LineId"]))
    # One record per line: a stray newline inside a field must not split a record.
    contents = [re.sub(r"[\r\n]+", " ", r["Content"]) for r in rows]
    return path, [r["LineId"] for r in rows], contents


def run_ours(cmd, contents, runs):
    data = ("\n".join(contents) + "\n").encode("utf-8")
    env = dict(os.environ, CAUSELOOP_PATTERNS_TIMING="1")
    best_wall, best_engine, out = None, None, None
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, input=data, capture_output=True, env=env, shell=isinstance(cmd, str))
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"{cmd!r} failed ({p.returncode}): {p.stderr.decode(errors='replace')[:2000]}")
        out = p.stdout.decode().split()
        m = re.search(rb"engine_seconds=([0-9.eE+-]+)", p.stderr)
        engine = float(m.group(1)) if m else None
        best_wall = wall if best_wall is None else min(best_wall, wall)
        if engine is not None:
            best_engine = engine if best_engine is None else min(best_engine, engine)
    if len(out) != len(contents):
        raise SystemExit(f"{cmd!r} printed {len(out)} ids for {len(contents)} lines")
    return out, best_wall, best_engine


def run_drain3(contents, runs):
    from drain3 import TemplateMiner
    best, labels = None, None
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as empty:
        os.chdir(empty)  # TemplateMiner() reads ./drain3.ini if present; defaults only, please.
        try:
            for _ in range(runs):
                miner = TemplateMiner()
                got = []
                t0 = time.perf_counter()
                for line in contents:
                    got.append(miner.add_log_message(line)["cluster_id"])
                elapsed = time.perf_counter() - t0
                best = elapsed if best is None else min(best, elapsed)
                labels = got
        finally:
            os.chdir(cwd)
    return [str(x) for x in labels], best


def write_pred(path, line_ids, labels):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["LineId", "predicted_group"])
        w.writerows(zip(line_ids, labels))


def fmt_rate(lines, seconds):
    if not seconds:
        return "n/a"
    return f"{lines / seconds:,.0f}"


def synthetic_records(bench_root, n, seed):
    pool = []
    for name in DATASETS:
        pool.extend(load_dataset(bench_root, name)[2])
    rng = random.Random(seed)

    def redraw(m):
        s = m.group(0)
        return "".join(str(rng.randrange(10)) if c.isdigit() else c for c in s)

    return [re.sub(r"\d+", redraw, rng.choice(pool)) for _ in range(n)]


def run_synthetic(state_cmd, bench_root, n, seed):
    records = synthetic_records(bench_root, n, seed)
    data = ("\n".join(records) + "\n").encode("utf-8")
    p = subprocess.run(state_cmd, input=data, capture_output=True, shell=isinstance(state_cmd, str))
    if p.returncode != 0:
        raise SystemExit(f"{state_cmd!r} failed: {p.stderr.decode(errors='replace')[:2000]}")
    return p.stdout.decode().strip()


def run_speed(cmd, drain, bench_root, n, runs):
    lines = [line for name in DATASETS for line in load_dataset(bench_root, name)[2]]
    records = (lines * (n // len(lines) + 1))[:n]
    _, wall, engine = run_ours(cmd, records, runs)
    print(f"\nSpeed, {n:,} lines (the eight data sets, repeated), best of {runs}:")
    print(f"- ours, whole `{cmd if isinstance(cmd, str) else ' '.join(cmd)}` process: {wall:.4f} s, "
          f"{fmt_rate(n, wall)} lines/s (engine alone {fmt_rate(n, engine)} lines/s)")
    if drain:
        _, dsec = run_drain3(records, runs)
        print(f"- Drain3 0.9.11 default, in-process: {dsec:.4f} s, {fmt_rate(n, dsec)} lines/s")
        print(f"- ratio (Drain3 time / our wall time): {dsec / wall:.1f}x")


def score_config(cmd, ev, sets, settings):
    """GA/FGA per data set for one --set combination (subprocess per set)."""
    extra = []
    for name, value in settings:
        extra += ["--set", f"{name}={value}"]
    full = (cmd.split() if isinstance(cmd, str) else list(cmd)) + extra
    out = {}
    for name, (gt_path, line_ids, contents) in sets.items():
        labels, _, _ = run_ours(full, contents, 1)
        m = ev.grouping_metrics(*aligned_labels(gt_path, line_ids, labels))
        out[name] = (m["GA"], m["FGA"])
    return out


def aligned_labels(gt_path, line_ids, labels):
    with open(gt_path, newline="", encoding="utf-8", errors="replace") as f:
        truth = {r["LineId"]: r["EventTemplate"] for r in csv.DictReader(f)}
    keep = [(truth[i], l) for i, l in zip(line_ids, labels) if truth.get(i)]
    return [t for t, _ in keep], [l for _, l in keep]


def run_loso(cmd, ev, bench_root, names):
    sets = {name: load_dataset(bench_root, name) for name in names}
    combos = [tuple(zip(LOSO_GRID, values)) for values in itertools.product(*LOSO_GRID.values())]
    scores = {}
    for i, combo in enumerate(combos):
        scores[combo] = score_config(cmd, ev, sets, combo)
        print(f"  [{i + 1}/{len(combos)}] {dict(combo)}: mean GA "
              f"{sum(g for g, _ in scores[combo].values()) / len(names):.4f}", file=sys.stderr)

    def objective(combo, train):
        return sum((scores[combo][n][0] + scores[combo][n][1]) / 2 for n in train) / len(train)

    def pick(train):
        # max() keeps the first of equals: the grid's order is the preference on ties.
        return max(combos, key=lambda c: objective(c, train))

    def show(combo):
        return " ".join(f"{k}={v}" for k, v in combo)

    print("\nLeave-one-system-out: parameters chosen on the other seven, scored on the held-out set")
    print("| Held-out set | chosen on the other seven | GA | FGA |")
    print("|---|---|---:|---:|")
    held = []
    for name in names:
        combo = pick([n for n in names if n != name])
        ga, fga = scores[combo][name]
        held.append((ga, fga))
        print(f"| {name} | {show(combo)} | {ga:.3f} | {fga:.3f} |")
    print(f"| **Mean of held-out** | | **{sum(g for g, _ in held) / len(held):.3f}** "
          f"| **{sum(f for _, f in held) / len(held):.3f}** |")
    best_all = pick(names)
    scores[()] = score_config(cmd, ev, sets, ())
    for label, combo in [(f"chosen on all {len(names)}", best_all), ("the command's default configuration", ())]:
        ga = sum(scores[combo][n][0] for n in names) / len(names)
        fga = sum(scores[combo][n][1] for n in names) / len(names)
        print(f"\n{label}: {show(combo) or '(no --set)'}: mean GA {ga:.3f}, FGA {fga:.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cmd", default=os.path.join(TARGET, "release/causeloop") + " patterns assign",
                    help="command that reads records on stdin and prints one id per line "
                         "(a string is run through the shell, e.g. 'target/release/causeloop patterns assign')")
    ap.add_argument("--bench-root", default=os.path.join(REPO, "bench", "patterns"))
    ap.add_argument("--out", default=os.path.join(REPO, "bench-out", "patterns"))
    ap.add_argument("--runs", type=int, default=3, help="timing repetitions (best is kept)")
    ap.add_argument("--no-drain3", action="store_true")
    ap.add_argument("--synthetic", type=int, default=0, metavar="N",
                    help="also measure N synthetic records with --state-cmd")
    ap.add_argument("--state-cmd", default=os.path.join(TARGET, "release/examples/state"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--speed", type=int, default=0, metavar="N",
                    help="wall clock of the whole command over N synthetic records, against Drain3")
    ap.add_argument("--loso", action="store_true", help="leave-one-system-out tuning over LOSO_GRID")
    ap.add_argument("--incidents", action="store_true", help="also score the incident-title set")
    ap.add_argument("--only", action="store_true",
                    help="with --loso, --speed or --incidents: skip the per-data-set table")
    a = ap.parse_args()

    ev = load_eval(a.bench_root)
    os.makedirs(a.out, exist_ok=True)
    drain = not a.no_drain3
    if drain:
        try:
            import drain3  # noqa: F401
        except ImportError:
            print("drain3 not importable: run scripts/bench-patterns.sh, or pass --no-drain3", file=sys.stderr)
            drain = False
        else:
            os.makedirs(os.path.join(a.out, "drain3"), exist_ok=True)

    cmd = a.cmd if " " in a.cmd else [a.cmd]
    if a.loso:
        run_loso(cmd, ev, a.bench_root, a.datasets.split(","))
    names = [] if a.only else a.datasets.split(",")
    if a.incidents:
        names.append("incidents")
    rows = []
    for name in names:
        gt_path, line_ids, contents = load_dataset(a.bench_root, name)
        labels, wall, engine = run_ours(cmd, contents, a.runs)
        pred_path = os.path.join(a.out, f"{name}.csv")
        write_pred(pred_path, line_ids, labels)
        m = ev.evaluate_files(pred_path, gt_path)
        row = dict(name=name, lines=len(contents), ga=m["GA"], fga=m["FGA"], wall=wall, engine=engine,
                   groups=m["pred_groups"], gt_groups=m["gt_groups"])
        if drain:
            dlabels, dsec = run_drain3(contents, a.runs)
            dpath = os.path.join(a.out, "drain3", f"{name}.csv")
            write_pred(dpath, line_ids, dlabels)
            dm = ev.evaluate_files(dpath, gt_path)
            row.update(dga=dm["GA"], dfga=dm["FGA"], dsec=dsec)
        rows.append(row)
        print(f"{name}: GA {row['ga']:.4f} FGA {row['fga']:.4f} groups {row['groups']}/{row['gt_groups']}"
              + (f" | Drain3 GA {row['dga']:.4f} FGA {row['dfga']:.4f}" if drain else ""), file=sys.stderr)

    if rows:
        print_table(rows, drain)
    if a.speed:
        run_speed(cmd, drain, a.bench_root, a.speed, a.runs)
    if a.synthetic:
        print(f"\nSynthetic {a.synthetic} records (seed {a.seed}):")
        state_cmd = a.state_cmd if " " in a.state_cmd else [a.state_cmd]
        print(run_synthetic(state_cmd, a.bench_root, a.synthetic, a.seed))


def print_table(rows, drain):
    head = "| Data set | GA | FGA | lines/s (wall) | lines/s (engine) |"
    sep = "|---|---:|---:|---:|---:|"
    if drain:
        head += " Drain3 GA | Drain3 FGA | Drain3 lines/s |"
        sep += "---:|---:|---:|"
    print(head)
    print(sep)
    for r in rows:
        line = (f"| {r['name']} | {r['ga']:.3f} | {r['fga']:.3f} | {fmt_rate(r['lines'], r['wall'])} "
                f"| {fmt_rate(r['lines'], r['engine'])} |")
        if drain:
            line += f" {r['dga']:.3f} | {r['dfga']:.3f} | {fmt_rate(r['lines'], r['dsec'])} |"
        print(line)
    rows = [r for r in rows if r["name"] != "incidents"]
    n = len(rows)
    if not n:
        return
    total = sum(r["lines"] for r in rows)
    engine_total = sum(r["engine"] for r in rows) if all(r["engine"] for r in rows) else None
    line = (f"| **Average** | **{sum(r['ga'] for r in rows) / n:.3f}** | **{sum(r['fga'] for r in rows) / n:.3f}** "
            f"| {fmt_rate(total, sum(r['wall'] for r in rows))} | {fmt_rate(total, engine_total)} |")
    if drain:
        line += (f" {sum(r['dga'] for r in rows) / n:.3f} | {sum(r['dfga'] for r in rows) / n:.3f} "
                 f"| {fmt_rate(total, sum(r['dsec'] for r in rows))} |")
    print(line)
    print("\n(the average is over the LogHub sets only; lines/s averages are total lines / total seconds)")


if __name__ == "__main__":
    main()
