#!/usr/bin/env python3
"""bench/funnel: a generated clickstream. gen_events.py --count N --sessions S --out FILE

Each event: {"ts":EPOCH_MS,"session":"s<n>","event":NAME,"props":{"source":...}}; sessions
start uniformly over 30 days, events follow at exponential gaps (mean 10 minutes, so a 1 h
window cuts some chains), names drawn home 30%, search 25%, cart 15%, checkout 5%, other 25%.
Lines are written in time order (as a log is), seed fixed."""
import argparse
import heapq
import random
import sys

NAMES = ["home"] * 30 + ["search"] * 25 + ["cart"] * 15 + ["checkout"] * 5 + ["other"] * 25
SOURCES = ["ads", "mail", "search", "direct"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(29)
    start = 1767225600000
    per_session = args.count // args.sessions
    rows = []
    for session in range(args.sessions):
        t = start + rng.randrange(30 * 86400 * 1000)
        source = rng.choice(SOURCES)
        for _ in range(per_session):
            t += int(rng.expovariate(1 / 600000))
            rows.append((t, session, rng.choice(NAMES), source))
    rows.sort()
    with open(args.out, "w") as out:
        for t, session, name, source in rows:
            out.write(f'{{"ts":{t},"session":"s{session}","event":"{name}",'
                      f'"props":{{"source":"{source}"}}}}\n')
    print(f"{len(rows)} events, {args.sessions} sessions", file=sys.stderr)


if __name__ == "__main__":
    main()
