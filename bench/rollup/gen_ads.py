#!/usr/bin/env python3
"""bench/rollup: generated ad impressions, one JSON object per line, in time order:
{"ts":EPOCH,"campaign":"cN","creative":"kN","geo":"XX","cost":"D.DD","user":"uN","latency":MS}
campaign x creative x geo is 20 x 10 x 5 = 1,000 groups, Zipf-like (a few campaigns carry most
impressions), spread over --minutes minutes from 2026-03-01T00:00:00Z: at most 100,000
(minute, group) rows over 100 minutes."""

import argparse
import random

parser = argparse.ArgumentParser()
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--minutes", type=int, required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--seed", type=int, default=28)
args = parser.parse_args()

rng = random.Random(args.seed)
geos = ["IN", "US", "DE", "FR", "BR"]
campaign_weights = [1 / (rank + 1) for rank in range(20)]
start = 1772323200
span = args.minutes * 60
with open(args.out, "w") as out:
    chunk = []
    campaigns = rng.choices(range(20), campaign_weights, k=args.count)
    for i in range(args.count):
        ts = start + i * span // args.count
        chunk.append(
            f'{{"ts":{ts},"campaign":"c{campaigns[i]}","creative":"k{rng.randrange(10)}",'
            f'"geo":"{geos[rng.randrange(5)]}","cost":"{rng.randrange(3)}.{rng.randrange(100):02d}",'
            f'"user":"u{rng.randrange(200000)}","latency":{int(rng.lognormvariate(4, 1)) + 1}}}\n')
        if len(chunk) == 100000:
            out.write("".join(chunk))
            chunk = []
    out.write("".join(chunk))
