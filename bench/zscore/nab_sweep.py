#!/usr/bin/python3
"""Sweep zscore settings over the NAB development subset, scored in-process.

  bench/zscore/nab_sweep.py [--grid NAME ...] [--config='ZSCORE_OPTIONS' ...]
                            [--configs-file FILE]
                            [--variants LIST] [--reference-gaussian] [--check N]
                            [--markdown] [--per-file] [-j N]

What nab.sh does for one setting, for many: every data file of
labels/combined_windows.json is converted once (nab_jsonl.py), then for every setting
`zscore OPTIONS` runs over each file (at most -j at a time, default 2) and its output is
scored with nab_score.py's own code (imported from NAB_TOOLS, not copied): one corpus-wide
threshold per profile, as `nab_score.py --optimize` chooses it.  The corpus is loaded once,
which is what makes a sweep take seconds per setting.  --check N runs nab.sh itself on the
first N settings and fails if its scores differ from this script's.

Several scores can be derived from one zscore run (--variants, comma-separated):
  score     the emitted `score` field, erf(|z|/sqrt 2) (what nab.sh scores by default)
  absz      |z|; a point with zero spread (z null, score 1) ranks above every z, one equal
            to the expectation (score 0) ranks at 0.  Any strictly increasing function of
            |z| (1 - p, -log p, ...) ranks the points the same way and so scores the same;
            |z| is that ranking with no ties made by rounding
  NAME:N    NAME (absz, absz0, nlp...) rounded to N significant digits, e.g. absz:9 is |z|
            without the last-bit noise of the window sums, which can split points whose
            true |z| is equal (the identical spikes of art_increase_spike_density get |z|
            differing by 1e-13, and which of them wins is luck)
  erfc      1 - erfc(|z|/sqrt 2) as a double: 1 - p computed with erfc
  nlp       -log10 p, p = erfc(|z|/sqrt 2) (asymptotic form where erfc underflows)
  score0, absz0  score, absz with the zero-spread points (z null; score 1 when the value
            differs from a constant history) left out: they do not fire
  up, down  one-sided: max(z, 0), max(-z, 0) (zero spread: by the sign of value - expected)
  anomaly   the emitted boolean `anomaly` (1 if true), i.e. zscore's own --threshold,
            --trigger, --recover, --direction decisions
  onset     1 only at the first flagged point of a run of flagged points (an alert's
            start; NAB charges every flagged point outside a window as a false positive)
  FIELD     any other numeric output field, by name
Variants are computed from the fields `z`, `score`, `value`, `expected`, `anomaly`.

--reference-gaussian scores a transcription of NAB's windowedGaussian detector (window
6400, step 100, population sd, score 1 - Q(|z|)) to check this pipeline against NAB's
published 28.2 / 22.4 / 31.6 for that detector on this subset.

In a setting, {per_day} and {per_week} become each file's points per day / week (from its
median spacing), as in nab.sh, e.g. --config='--method holt-winters --season-length {per_day}'.

Named grids (--grid): zscore (windows 10..6400, warm-up = window), zscore-mh (the same with
--min-history 2, 30, 100), ewma (alpha 0.001..0.3), ewma-mh (--min-history 2, 30),
threshold (for --variants anomaly: window 400/1600/6400 x --threshold 3..8 x --trigger),
robust (windows 50..6400, --min-history 30), seasonal (1d x lookback 1,2,4,7; 7d x 1,2,4),
holt-winters (--season-length {per_day}; --window, --alpha, --beta, --gamma one at a time;
{per_week}), all (zscore, zscore-mh, ewma, ewma-mh), new (robust, seasonal, holt-winters).

Output: one tab-separated row per setting and variant: the three normalized scores, then
the standard profile's chosen threshold, windows detected (of 39) and false-positive points.
Each setting takes a few seconds (2 cores).

Environment: ZSCORE (default build/bin/zscore, copied first), NAB_DIR, NAB_TOOLS, PYTHON as
for nab.sh.  Standard library only.
"""

import argparse
import concurrent.futures as cf
import importlib.util
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SQRT2 = math.sqrt(2.0)

WINDOWS = (10, 20, 50, 100, 200, 400, 800, 1600, 3200, 6400)
ALPHAS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


def grid(name):
    if name == "zscore":
        return ["--method zscore --window %d" % w for w in WINDOWS]
    if name == "zscore-mh":
        return ["--method zscore --window %d --min-history %d" % (w, m)
                for m in (2, 30, 100) for w in WINDOWS if m < w]
    if name == "ewma":
        return ["--method ewma --alpha %g" % a for a in ALPHAS]
    if name == "ewma-mh":
        return ["--method ewma --alpha %g --min-history %d" % (a, m)
                for m in (2, 30) for a in ALPHAS if m < math.ceil(1 / a)]
    if name == "threshold":
        return ["--method zscore --window %d --min-history 30 --threshold %g --trigger %s"
                % (w, t, k) for w in (400, 1600, 6400) for t in (3, 4, 5, 6, 8)
                for k in ("1/1", "2/3")]
    if name == "robust":
        return ["--method robust --window %d --min-history 30" % w
                for w in (50, 200, 400, 800, 1600, 3200, 6400)]
    if name == "seasonal":
        return ["--method seasonal --season 1d --lookback %d" % k for k in (1, 2, 4, 7)] + \
            ["--method seasonal --season 7d --lookback %d" % k for k in (1, 2, 4)]
    if name == "holt-winters":
        hw = "--method holt-winters --season-length {per_day}"
        return [hw] + ["%s --window %d" % (hw, w) for w in (100, 400, 1600)] + \
            ["%s --alpha %g" % (hw, a) for a in (0.05, 0.2, 0.5)] + \
            ["%s --beta %g" % (hw, b) for b in (0.01, 0.2)] + \
            ["%s --gamma %g" % (hw, g) for g in (0.05, 0.3)] + \
            ["--method holt-winters --season-length {per_week}"]
    if name == "all":
        return grid("zscore") + grid("zscore-mh") + grid("ewma") + grid("ewma-mh")
    if name == "new":
        return grid("robust") + grid("seasonal") + grid("holt-winters")
    raise SystemExit("unknown grid %r" % name)


def load_nab_score(tools):
    sys.dont_write_bytecode = True   # no __pycache__ beside the shared tools
    spec = importlib.util.spec_from_file_location(
        "nab_score", os.path.join(tools, "nab_score.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------
# score variants

def neglog10_p(az):
    p = math.erfc(az / SQRT2)
    if p > 0:
        return -math.log10(p)
    # erfc(x) ~ exp(-x^2) / (x sqrt(pi)), x = az / sqrt 2
    x = az / SQRT2
    return (x * x + math.log(x * math.sqrt(math.pi))) / math.log(10)


def variant_value(rec, name):
    z, score = rec.get("z"), rec.get("score")
    if ":" in name:               # NAME:N, NAME rounded to N significant digits
        base, digits = name.split(":", 1)
        v = variant_value(rec, base)
        return v if v is None or not math.isfinite(v) or v == 0 else float(
            "%.*g" % (int(digits), v))
    if name == "score":
        return score
    if name == "anomaly":
        return 1.0 if rec.get("anomaly") is True else 0.0
    if name in ("score0", "absz0"):   # the same, but a zero-spread point never fires
        return None if z is None else variant_value(rec, name[:-1])
    if name in ("absz", "erfc", "nlp", "up", "down"):
        if score is None:
            return None          # warming up: does not fire
        if z is None:            # zero spread: score 1 if the value moved, else 0
            moved = score > 0
            if moved and name in ("up", "down"):
                d = rec["value"] - rec["expected"]
                moved = d > 0 if name == "up" else d < 0
            return math.inf if moved else 0.0
        if name == "absz":
            return abs(z)
        if name == "erfc":
            return 1.0 - math.erfc(abs(z) / SQRT2)
        if name == "nlp":
            return neglog10_p(abs(z))
        return max(z, 0.0) if name == "up" else max(-z, 0.0)
    v = rec.get(name)
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    return float(v)


def series_values(recs, name):
    """One series' values of a variant (None where zscore printed no row)."""
    if name != "onset":
        return [None if r is None else variant_value(r, name) for r in recs]
    out, before = [], False
    for r in recs:
        now = r is not None and r.get("anomaly") is True
        out.append(1.0 if now and not before else 0.0)
        if r is not None:
            before = now
    return out


# --------------------------------------------------------------------------

class Bench(object):
    def __init__(self, a):
        self.a = a
        self.nab_dir = os.path.abspath(a.nab)
        self.ns = load_nab_score(a.tools)
        t0 = time.time()
        self.corpus = self.ns.load_corpus(self.nab_dir)
        with open(os.path.join(self.nab_dir, "config", "profiles.json")) as fh:
            self.profiles = json.load(fh)
        self.tmp = tempfile.mkdtemp(prefix="nab-sweep.")
        self.zs = os.path.join(self.tmp, "zscore")
        shutil.copy2(a.zscore, self.zs)
        self.keys = {}
        self.dropped = {}
        # points per day ({per_day} in a setting), from the median spacing, as nab.sh
        self.per_day = {}
        for df in self.corpus:
            steps = sorted((b - a).total_seconds() for a, b in zip(df.ts, df.ts[1:]) if b > a)
            m = len(steps) // 2
            med = steps[m] if len(steps) % 2 else (steps[m - 1] + steps[m]) / 2
            self.per_day[df.rel] = round(86400 / med)
        self.jsonl = {}
        jobs = []
        for df in self.corpus:
            out = os.path.join(self.tmp, df.rel.replace("/", "__") + ".jsonl")
            self.jsonl[df.rel] = out
            jobs.append([a.python, os.path.join(a.tools, "nab_jsonl.py"),
                         os.path.join(self.nab_dir, "data", df.rel), "-o", out])
        with cf.ThreadPoolExecutor(a.jobs) as ex:
            for cmd, r in zip(jobs, ex.map(lambda c: subprocess.run(
                    c, capture_output=True, text=True), jobs)):
                if r.returncode:
                    raise SystemExit("%s failed: %s" % (cmd, r.stderr))
        # Row i of a data file is line i of its JSON Lines; zscore echoes the ts text as
        # read, so (ts text, occurrence) finds the row of an output record.
        for df in self.corpus:
            seen, keys = {}, {}
            with open(self.jsonl[df.rel]) as fh:
                for i, line in enumerate(fh):
                    t = json.loads(line)["ts"]
                    k = (t, seen.get(t, 0))
                    seen[t] = k[1] + 1
                    keys[k] = i
            if len(keys) != df.n:
                raise SystemExit("%s: %d JSON lines, %d rows" % (df.rel, len(keys), df.n))
            self.keys[df.rel] = keys
        print("# corpus: %d files, %d rows, %d windows (%.1f s to load)"
              % (len(self.corpus), sum(df.n for df in self.corpus),
                 sum(len(df.windows) for df in self.corpus), time.time() - t0),
              file=sys.stderr)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_zscore(self, opts):
        """zscore OPTS over every file -> {rel: [record, ...]} (rows aligned)."""
        def one(df):
            pd = self.per_day[df.rel]
            args = shlex.split(opts.replace("{per_day}", str(pd))
                               .replace("{per_week}", str(7 * pd)))
            with open(self.jsonl[df.rel]) as fin:
                r = subprocess.run([self.zs] + args, stdin=fin,
                                   capture_output=True, text=True)
            if r.returncode:
                raise SystemExit("zscore %s on %s: exit %d: %s"
                                 % (opts, df.rel, r.returncode, r.stderr))
            # zscore drops a point at or before its series' latest time (NAB has a few
            # duplicate and backward timestamps); align on (timestamp, occurrence) as
            # nab_score.py does, a dropped row has no record and does not fire.
            key_to_idx, seen = self.keys[df.rel], {}
            recs = [None] * df.n
            for line in r.stdout.splitlines():
                if not line.strip():
                    continue
                rec = json.loads(line)
                t = rec["ts"]
                k = (t, seen.get(t, 0))
                seen[t] = k[1] + 1
                i = key_to_idx.get(k)
                if i is None:
                    raise SystemExit("zscore %s on %s: row %s is not in the data file"
                                     % (opts, df.rel, rec["ts"]))
                recs[i] = rec
            self.dropped[df.rel] = recs.count(None)
            return df.rel, recs

        with cf.ThreadPoolExecutor(self.a.jobs) as ex:
            return dict(ex.map(one, self.corpus))

    def score(self, scores, per_file=False):
        """scores: {rel: [float|None]} -> {profile: report} (nab_score --optimize)."""
        sweep = self.ns.Sweep(self.corpus, scores)
        best = {}
        for thr, st in sweep.states():
            for p in PROFILES:
                r = sweep.raw(st, self.profiles[p]["CostMatrix"])
                if p not in best or r > best[p][0]:
                    best[p] = (r, thr, st)
        out = {}
        for p in PROFILES:
            cm = self.profiles[p]["CostMatrix"]
            out[p] = sweep.report(best[p][2], cm, best[p][1])
            if per_file:
                out[p]["per_file"] = self.ns.per_file_scores(
                    self.corpus, scores, cm, best[p][1])
        return out

    def reference_gaussian(self):
        """NAB's windowedGaussian_detector.py (window 6400, step 100), transcribed.

        Returns zscore-like records per row ({value, expected, z, score}); its score is
        1 - Q(|z|) = (1 + erf(|z|/sqrt 2)) / 2, 0 for the first row, as NAB's."""
        import csv
        try:
            import numpy
        except ImportError:
            numpy = None

        def mean_std(xs):
            if numpy is not None:
                m, s = float(numpy.mean(xs)), float(numpy.std(xs))
            else:
                m = math.fsum(xs) / len(xs)
                s = math.sqrt(math.fsum((x - m) ** 2 for x in xs) / len(xs))
            return m, (s if s != 0.0 else 0.000001)

        scores = {}
        for df in self.corpus:
            with open(os.path.join(self.nab_dir, "data", df.rel), newline="") as fh:
                rows = list(csv.DictReader(fh))
            window, step, mean, std, out = [], [], 0.0, 1.0, []
            for row in rows:
                x = float(row["value"])
                rec = {"value": x, "expected": None, "z": None, "score": 0.0}
                if window:
                    xp = x if x >= mean else 2 * mean - x
                    rec.update(expected=mean, z=(x - mean) / std,
                               score=1 - 0.5 * math.erfc(((xp - mean) / std) / SQRT2))
                if len(window) < 6400:
                    window.append(x)
                    mean, std = mean_std(window)
                else:
                    step.append(x)
                    if len(step) == 100:
                        window = window[100:] + step
                        step = []
                        mean, std = mean_std(window)
                out.append(rec)
            scores[df.rel] = out
        return scores


def fmt_row(label, variant, rep, markdown):
    cells = [label, variant] + ["%.2f" % rep[p]["score"] for p in PROFILES]
    st = rep["standard"]
    cells += ["%.13g" % st["threshold"], "%d" % st["windows"]["detected"],
              "%d" % st["counts"]["FP"]]
    if markdown:
        cells[0] = "`%s`" % cells[0]
        return "| " + " | ".join(cells) + " |"
    return "\t".join(cells)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", action="append", default=[],
                    help="zscore, zscore-mh, ewma, ewma-mh, threshold, robust, "
                    "seasonal, holt-winters, all, new")
    ap.add_argument("--config", action="append", default=[],
                    help="one setting: zscore options as one string (repeatable)")
    ap.add_argument("--configs-file", metavar="FILE",
                    help="settings, one per line ('-': stdin; # comments)")
    ap.add_argument("--variants", default="score",
                    help="comma-separated score variants (see the docstring)")
    ap.add_argument("--reference-gaussian", action="store_true",
                    help="also score NAB's windowedGaussian (transcribed)")
    ap.add_argument("--check", type=int, default=0, metavar="N",
                    help="run nab.sh on the first N settings and compare")
    ap.add_argument("--per-file", action="store_true",
                    help="per-file raw scores (standard profile) for each setting")
    ap.add_argument("--markdown", action="store_true", help="a Markdown table")
    ap.add_argument("-j", "--jobs", type=int, default=2,
                    help="zscore processes at a time (default 2)")
    ap.add_argument("--nab", default=os.environ.get(
        "NAB_DIR", os.path.join(ROOT, "..", "shared", "data", "nab-dev")))
    ap.add_argument("--tools", default=os.environ.get(
        "NAB_TOOLS", os.path.join(ROOT, "..", "shared", "tools")))
    ap.add_argument("--zscore", default=os.environ.get(
        "ZSCORE", os.path.join(ROOT, "build", "bin", "zscore")))
    ap.add_argument("--python", default=os.environ.get("PYTHON", "/usr/bin/python3"),
                    help="runs nab_jsonl.py (default /usr/bin/python3)")
    a = ap.parse_args(argv)

    configs = []
    for g in a.grid:
        configs += grid(g)
    configs += a.config
    if a.configs_file:
        fh = sys.stdin if a.configs_file == "-" else open(a.configs_file)
        configs += [l.strip() for l in fh if l.strip() and not l.lstrip().startswith("#")]
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    if not configs and not a.reference_gaussian:
        ap.error("nothing to do: give --grid, --config or --reference-gaussian")

    b = Bench(a)
    try:
        head = ["options", "variant", "standard", "low_FP", "low_FN",
                "threshold(std)", "windows(std)", "FP(std)"]
        if a.markdown:
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * len(head))
        else:
            print("\t".join(head))
        if a.reference_gaussian:
            recs = b.reference_gaussian()
            for v in variants:
                rep = b.score({rel: series_values(rs, v)
                               for rel, rs in recs.items()})
                print(fmt_row("NAB windowedGaussian (transcribed)", v, rep, a.markdown),
                      flush=True)
        results = {}
        for opts in configs:
            t0 = time.time()
            recs = b.run_zscore(opts)
            t_run = time.time() - t0
            for v in variants:
                scores = {rel: series_values(rs, v)
                          for rel, rs in recs.items()}
                rep = b.score(scores, a.per_file)
                results[(opts, v)] = rep
                print(fmt_row(opts, v, rep, a.markdown), flush=True)
                if a.per_file:
                    for rel, pf in sorted(rep["standard"]["per_file"].items()):
                        print("#   %-55s raw %8.3f  windows %d/%d  fp %d"
                              % (rel, pf["raw"], pf["detected"], pf["windows"],
                                 pf["fp_points"]))
            print("# %s: zscore %.1f s, total %.1f s, %d rows dropped by zscore"
                  % (opts, t_run, time.time() - t0, sum(b.dropped.values())),
                  file=sys.stderr)
        for opts in configs[:a.check]:
            r = subprocess.run([os.path.join(HERE, "nab.sh"), "--"] + shlex.split(opts),
                               capture_output=True, text=True)
            if r.returncode:
                raise SystemExit("nab.sh %s failed: %s" % (opts, r.stderr))
            got = r.stdout.strip().split("\t")[2:]
            rep = results.get((opts, "score")) or b.score(
                {rel: series_values(rs, "score")
                 for rel, rs in b.run_zscore(opts).items()})
            want = ["%.2f" % rep[p]["score"] for p in PROFILES]
            status = "ok" if got == want else "MISMATCH"
            print("# check nab.sh -- %s: %s vs %s: %s" % (opts, got, want, status),
                  file=sys.stderr)
            if got != want:
                return 1
    finally:
        b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
