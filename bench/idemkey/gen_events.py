#!/usr/bin/env python3
"""Deterministic JSONL event generator for the `idemkey filter` benchmark.

Writes COUNT records, one per line:

    {"event_id":"evt_…","user":"u123","ts":1700000000123,"amount":"12.34"}

A fraction of the lines (--duplicates, default 0.10) are exact, byte-identical repeats of an
earlier line, as an at-least-once producer would emit them. Every distinct record has its own
event_id, so deduplicating by event_id and deduplicating by the whole line give the same result.

Where a duplicate lands is drawn the way redeliveries happen in practice:
  70% shortly after the original (a client retry: exponential, mean 20 records later),
  25% a while later (a consumer restarting from an old offset: exponential, mean 20,000 records),
   5% anywhere later in the stream (a replayed backfill).
Some originals are therefore repeated more than once. The same arguments always give the same
bytes (Python's Mersenne Twister with a fixed seed; no dependence on hash randomisation).

Usage: gen_events.py [--count N] [--duplicates FRACTION] [--seed S] [--output FILE]
The summary (records, distinct, duplicates) goes to stderr.
"""

import argparse
import random
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", "-n", type=int, default=1_000_000, help="records in total")
    parser.add_argument("--duplicates", "-d", type=float, default=0.10,
                        help="fraction of records that repeat an earlier record (0 <= f < 1)")
    parser.add_argument("--seed", type=int, default=20240601, help="random seed")
    parser.add_argument("--output", "-o", default="-", help="output file (default stdout)")
    args = parser.parse_args()
    if args.count < 0:
        parser.error("--count must be >= 0")
    if not 0.0 <= args.duplicates < 1.0:
        parser.error("--duplicates must be in [0, 1)")
    return args


def distinct_records(rng, count):
    """The distinct records, in time order."""
    records = []
    seen_ids = set()
    ts = 1_700_000_000_000  # epoch milliseconds, 2023-11-14
    users = 50_000
    for _ in range(count):
        event_id = "evt_%032x" % rng.getrandbits(128)
        while event_id in seen_ids:  # never happens in practice; keeps ids unique regardless
            event_id = "evt_%032x" % rng.getrandbits(128)
        seen_ids.add(event_id)
        ts += rng.randint(0, 40)
        # A few heavy users, a long tail of light ones.
        user = int(users * rng.random() ** 3) + 1
        cents = int(rng.lognormvariate(7.0, 1.2))  # median about 11 units
        amount = "%d.%02d" % (cents // 100, cents % 100)
        records.append('{"event_id":"%s","user":"u%d","ts":%d,"amount":"%s"}\n'
                       % (event_id, user, ts, amount))
    return records


def duplicate_position(rng, source, last):
    """Index (in the distinct sequence) after which a duplicate of `source` is delivered."""
    draw = rng.random()
    if draw < 0.70:
        delay = int(rng.expovariate(1 / 20))
    elif draw < 0.95:
        delay = int(rng.expovariate(1 / 20_000))
    else:
        delay = rng.randint(0, last - source)
    return min(source + delay, last)


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    duplicates = int(round(args.count * args.duplicates))
    distinct = args.count - duplicates
    if distinct == 0 and duplicates > 0:
        sys.exit("gen_events.py: --duplicates leaves no distinct record to repeat")
    records = distinct_records(rng, distinct)

    # Order: each distinct record i sorts as (i, 0, 0); a duplicate of i delivered after
    # record j >= i sorts as (j, 1, random), i.e. after record j and so after its original.
    extra = []
    for _ in range(duplicates):
        source = rng.randrange(distinct)
        extra.append((duplicate_position(rng, source, distinct - 1), rng.random(), source))
    extra.sort()

    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="ascii")
    buffer = []
    k = 0
    for i, line in enumerate(records):
        buffer.append(line)
        while k < len(extra) and extra[k][0] == i:
            buffer.append(records[extra[k][2]])
            k += 1
        if len(buffer) >= 65536:
            out.write("".join(buffer))
            buffer.clear()
    out.write("".join(buffer))
    if out is not sys.stdout:
        out.close()
    print(f"gen_events.py: {args.count} records, {distinct} distinct, {duplicates} duplicates, "
          f"seed {args.seed}", file=sys.stderr)


if __name__ == "__main__":
    main()
