#!/usr/bin/env bash
# bench/zscore/nab.sh [OPTIONS] -- ZSCORE_OPTIONS...
#
# Scores `zscore ZSCORE_OPTIONS...` on the NAB development subset (../shared/data/nab-dev from
# the project root: 24 series, 39 labelled windows, ~123k points). Every data file listed in
# labels/combined_windows.json goes through
#     nab_jsonl.py FILE | zscore ZSCORE_OPTIONS... | nab_results_from_jsonl.py --score-field F
# (2 files at a time, -j), then nab_score.py --optimize picks one corpus-wide threshold on
# that field per profile, and one tab-separated line is printed:
#     DETECTOR  ZSCORE_OPTIONS  STANDARD  REWARD_LOW_FP  REWARD_LOW_FN
# (NAB normalized scores: 100 = perfect, 0 = never fires. The published sliding-window
# Gaussian, window 6400, scores 28.2 / 22.4 / 31.6 on this subset; its zscore counterpart is
# --window 6400 --min-history 30: zscore's default warm-up of a whole window would leave most
# of these short series unjudged.) Takes about 8 s.
#
# Options (before the --):
#   --detector NAME     name in the output and the results layout (default: zscore)
#   --score-field F     output field to threshold (default: score); rows where it is null
#                       (warm-up) count as "did not fire"
#   --flag-field F      threshold a boolean field instead (e.g. anomaly: true -> 1, else 0),
#                       which scores zscore's own --threshold/--trigger/--recover/--direction
#   --header            print a header line first
#   --json FILE         also write nab_score.py's full JSON report (thresholds, windows
#                       detected, TP/FP counts per profile) to FILE
#   --keep DIR          keep the NAB results CSVs in DIR/<detector>/ (default: removed)
#   -j N                files scored at a time (default 2)
#   -h, --help          this text
#
# In ZSCORE_OPTIONS, {per_day} and {per_week} become each file's points per day / week
# (86400 or 604800 s over its median spacing, rounded: 288, 48 or 24 here), for options
# counted in points, e.g. --season-length {per_day}: the subset mixes 5-min, 30-min and hourly
# series.
#
#   e.g. bench/zscore/nab.sh -- --method zscore --window 6400
#        bench/zscore/nab.sh --detector ewma01 -- --method ewma --alpha 0.01
#        bench/zscore/nab.sh --flag-field anomaly -- --window 400 --threshold 4 --trigger 2/3
#        bench/zscore/nab.sh -- --method holt-winters --season-length {per_day}
#
# Environment: ZSCORE (binary; default build/bin/zscore, copied into the temp dir first so a
# rebuild during the run changes nothing), PYTHON (default /usr/bin/python3), NAB_DIR (default
# ../shared/data/nab-dev), NAB_TOOLS (default ../shared/tools), TMPDIR.
# Exit status: 0 scored; 1 a file failed (its stderr is shown); 2 usage or setup error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
ZSCORE_SRC=${ZSCORE:-$root/build/bin/zscore}
NAB_DIR=${NAB_DIR:-$root/../shared/data/nab-dev}
NAB_TOOLS=${NAB_TOOLS:-$root/../shared/tools}
export PYTHONDONTWRITEBYTECODE=1

usage() { sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "nab.sh: $*" >&2; exit 2; }

detector=zscore field_opt=--score-field field=score header=0 json_out="" keep="" par=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --detector) [[ $# -ge 2 ]] || die "$1 needs a value"; detector=$2; shift ;;
    --score-field) [[ $# -ge 2 ]] || die "$1 needs a value"; field_opt=--score-field field=$2; shift ;;
    --flag-field) [[ $# -ge 2 ]] || die "$1 needs a value"; field_opt=--flag-field field=$2; shift ;;
    --header) header=1 ;;
    --json) [[ $# -ge 2 ]] || die "$1 needs a value"; json_out=$2; shift ;;
    --keep) [[ $# -ge 2 ]] || die "$1 needs a value"; keep=$2; shift ;;
    -j) [[ $# -ge 2 ]] || die "$1 needs a value"; par=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown argument '$1' (zscore options go after --; try --help)" ;;
  esac
  shift
done
zopts=("$@")
[[ $detector =~ ^[A-Za-z0-9._+=-]+$ ]] || die "--detector: '$detector' must be a plain name"
[[ $par =~ ^[1-9][0-9]*$ ]] || die "-j: '$par' is not a positive number"
[[ -x $PYTHON ]] || die "no python at $PYTHON"
[[ -x $ZSCORE_SRC ]] || die "no zscore binary at $ZSCORE_SRC (cmake --build build --target zscore)"
labels=$NAB_DIR/labels/combined_windows.json
[[ -f $labels ]] || die "no NAB subset at $NAB_DIR ($labels missing)"
for t in nab_jsonl.py nab_results_from_jsonl.py nab_score.py; do
  [[ -f $NAB_TOOLS/$t ]] || die "missing $NAB_TOOLS/$t"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nab-zscore.XXXXXX")
# The pids of this script's running jobs and all their descendants (pipelines included).
descendants() {
  local p
  for p in "$@"; do
    echo "$p"
    # shellcheck disable=SC2046
    descendants $(ps -o pid= --ppid "$p" 2>/dev/null || true)
  done
}
cleanup() {
  local pids
  # shellcheck disable=SC2046
  pids=$(descendants $(jobs -p)) || true
  # shellcheck disable=SC2086
  if [[ -n $pids ]]; then kill $pids 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

zs=$tmp/zscore
cp "$ZSCORE_SRC" "$zs"
per_file=0
for o in "${zopts[@]}"; do [[ $o == *"{per_day}"* || $o == *"{per_week}"* ]] && per_file=1; done
# fopts = zscore's options for one file: {per_day} and {per_week} replaced by $1 and $2
file_opts() {
  fopts=()
  local o
  for o in "${zopts[@]}"; do
    o=${o//\{per_day\}/$1}
    fopts+=("${o//\{per_week\}/$2}")
  done
}
# Options first, on no input: a usage error is reported once, not 24 times.
file_opts 24 168
if ! "$zs" "${fopts[@]}" </dev/null >/dev/null 2>"$tmp/usage.err"; then
  echo "nab.sh: zscore ${zopts[*]}: rejected:" >&2
  cat "$tmp/usage.err" >&2
  exit 2
fi

mapfile -t files < <("$PYTHON" -c \
  'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1])))))' "$labels")
[[ ${#files[@]} -gt 0 ]] || die "no files in $labels"
declare -A per_day=()
if ((per_file)); then
  while read -r n rel; do per_day[$rel]=$n; done < <("$PYTHON" -c '
import csv, datetime as dt, os, statistics, sys
for rel in sys.argv[2:]:
    with open(os.path.join(sys.argv[1], rel), newline="") as fh:
        ts = [dt.datetime.fromisoformat(r[0].strip()) for r in list(csv.reader(fh))[1:] if r]
    steps = [(b - a).total_seconds() for a, b in zip(ts, ts[1:]) if b > a]
    print(round(86400 / statistics.median(steps)), rel)
' "$NAB_DIR/data" "${files[@]}")
  [[ ${#per_day[@]} -eq ${#files[@]} ]] || die "could not find every file's spacing"
fi

results=$tmp/results
mkdir -p "$results" "$tmp/log"
run_one() {  # $1 = NAB relative path, e.g. realKnownCause/nyc_taxi.csv
  local rel=$1 log=$tmp/log/${1//\//__}.err fopts
  if ((per_file)); then
    file_opts "${per_day[$rel]}" $((per_day[$rel] * 7))
  else
    fopts=("${zopts[@]}")
  fi
  if ! (
    set -o pipefail
    "$PYTHON" "$NAB_TOOLS/nab_jsonl.py" "$NAB_DIR/data/$rel" |
      "$zs" "${fopts[@]}" |
      "$PYTHON" "$NAB_TOOLS/nab_results_from_jsonl.py" - --results-dir "$results" \
        --detector "$detector" --file "$rel" "$field_opt" "$field"
  ) 2>"$log"; then
    echo "$rel" >>"$tmp/failed"
  fi
}
for rel in "${files[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $par ]]; do wait -n || true; done
  run_one "$rel" &
done
wait
if [[ -s $tmp/failed ]]; then
  echo "nab.sh: $(wc -l <"$tmp/failed") file(s) failed; the first:" >&2
  rel=$(head -n 1 "$tmp/failed")
  echo "  $rel:" >&2
  sed 's/^/    /' "$tmp/log/${rel//\//__}.err" >&2
  exit 1
fi

"$PYTHON" "$NAB_TOOLS/nab_score.py" --nab "$NAB_DIR" --results "$results/$detector" \
  --detector "$detector" --optimize >"$tmp/score.json" 2>"$tmp/score.err" || {
  echo "nab.sh: nab_score.py failed:" >&2
  cat "$tmp/score.err" >&2
  exit 1
}
[[ -n $json_out ]] && cp "$tmp/score.json" "$json_out"
if [[ -n $keep ]]; then
  mkdir -p "$keep"
  cp -r "$results/$detector" "$keep/"
fi

# zscore echoes every input line, so every row must align with its data file; rows without a
# score (warm-up) are expected and count as "did not fire".
"$PYTHON" - "$tmp/score.json" "$detector" "${zopts[*]}" "$header" <<'EOF'
import json, sys
path, detector, options, header = sys.argv[1:5]
r = json.load(open(path))
bad = [p for p in r["alignment_problems"] if p.get("unmatched_rows")]
if r["files_missing"] or bad:
    sys.exit("nab.sh: results do not cover the corpus: missing %s, unaligned %s"
             % (r["files_missing"], bad))
names = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
if header == "1":
    print("detector\toptions\tstandard\treward_low_FP\treward_low_FN")
print("\t".join([detector, options or "(defaults)"]
                + ["%.2f" % r["profiles"][p]["score"] for p in names]))
EOF
