#!/usr/bin/env python3
"""Write the input of bench/cohort/run.sh: a product's event log as JSON Lines.

gen_events.py --count N --users U [--seed S] [--start DATE] [--days D] --out FILE

N lines such as

  {"ts":"2026-01-05T10:00:07Z","user":"u_00012345","event":"open","session":"s_3f9a2b7c",
   "os":"android","v":513}

(one line each, about 110 bytes on average), from a seeded generator: the same arguments give
the same bytes. Stdlib only.

Users. Exactly U distinct users (N >= U): ids "u_" and 8 digits, a shuffled numbering, so ids
are not in the order users first appear. Each user joins at one instant: 30% in the first 7
days of the log (the users who were already there when the log starts), the rest uniformly
over the whole span, so later weeks have smaller cohorts. Each user's first event, at the join
instant, is "signup".

Activity is a power law: every user has one event, and the other N - U are shared out in
proportion to a Pareto weight (alpha 1.4), so most users have a handful of events and a few
have thousands. A user's later events follow the join by exponentially distributed gaps whose
mean grows with the user's activity (1 day x n^0.75 for a user of n events), redrawn uniformly
between the join and the end of the log when they fall past it; so light users churn within
days and heavy ones stay.

Order. The log is roughly in time order, as a log would be: lines are in the order of their
hour and of their second in it, except that about 1% carry a timestamp up to 10 minutes
earlier than their place (late arrivals), which can put a user's earliest event after another
of theirs, or across a week boundary.

The span starts at --start (default 2026-01-05, a Monday) and lasts --days days (default 82:
11 whole weeks and a Monday-to-Friday, so the last week is cut short, as in a live log).
The statistics of the data are printed on standard error.
"""

import argparse
import array
import datetime
import random
import sys

EVENTS = [("open", 30), ("view", 30), ("click", 18), ("search", 10), ("add_to_cart", 6),
          ("purchase", 3), ("share", 2), ("logout", 1)]
SIGNUP = len(EVENTS)  # event code of the first event of a user
DEVICES = [("android", 48), ("ios", 37), ("web", 15)]
VERSIONS = [512, 513, 520, 521, 600]  # app builds
ALPHA = 1.4
EARLY_SHARE = 0.30
LATE_SHARE = 0.01
LATE_MAX_S = 600
GAP_EXPONENT = 0.75


def table(weighted):
    out = []
    for index, (_, weight) in enumerate(weighted):
        out.extend([index] * weight)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, required=True, help="events (N)")
    parser.add_argument("--users", type=int, required=True, help="distinct users (U <= N)")
    parser.add_argument("--seed", type=int, default=20260105)
    parser.add_argument("--start", default="2026-01-05", help="first day (UTC)")
    parser.add_argument("--days", type=int, default=82)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    n, users = args.count, args.users
    if not 0 < users <= n:
        parser.error("need 0 < --users <= --count")
    if users >= 100_000_000:
        parser.error("--users must be below 100,000,000 (8-digit ids)")
    rng = random.Random(args.seed)
    start = datetime.datetime.fromisoformat(args.start).replace(tzinfo=datetime.timezone.utc)
    span = args.days * 86400
    hours = args.days * 24

    # Per user: join second, number of events.
    weights = [rng.paretovariate(ALPHA) for _ in range(users)]
    total_weight = sum(weights)
    extra = n - users
    counts = array.array("I", (1 + int(w * extra / total_weight) for w in weights))
    short = n - sum(counts)  # what flooring left out, given one each to random users
    for index in rng.sample(range(users), short):
        counts[index] += 1
    del weights
    ids = array.array("I", range(users))
    rng.shuffle(ids)

    # Each event goes to the bucket of its hour as user << 4 | event code.
    buckets = [array.array("I") for _ in range(hours)]
    pick = table(EVENTS)
    rand, expo, week = rng.random, rng.expovariate, 7 * 86400
    early = min(span, week)
    last_hour = hours - 1
    for user in range(users):
        if rand() < EARLY_SHARE:
            join = rand() * early
        else:
            join = rand() * span
        key = user << 4
        buckets[min(int(join // 3600), last_hour)].append(key | SIGNUP)
        count = counts[user]
        if count == 1:
            continue
        rate = 1.0 / (86400 * count**GAP_EXPONENT)
        room = span - join
        for _ in range(count - 1):
            gap = expo(rate)
            if gap >= room:
                gap = rand() * room
            hour = min(int((join + gap) // 3600), last_hour)
            buckets[hour].append(key | pick[int(rand() * len(pick))])

    # Write hour by hour, each hour's events in the order of their second.
    days = [(start + datetime.timedelta(days=d)).strftime("%Y-%m-%d") for d in range(args.days)]
    names = [name for name, _ in EVENTS] + ["signup"]
    devices = table(DEVICES)
    device_names = [name for name, _ in DEVICES]
    written = late = 0
    size = 0
    with open(args.out, "w") as out:
        for hour in range(hours):
            bucket = buckets[hour]
            base = hour * 3600
            stamped = sorted((int(rand() * 3600), code) for code in bucket)
            lines = []
            for second, code in stamped:
                t = base + second
                if rand() < LATE_SHARE:
                    t = max(0, t - 1 - int(rand() * LATE_MAX_S))
                    late += 1
                day, rest = divmod(t, 86400)
                h, rest = divmod(rest, 3600)
                m, s = divmod(rest, 60)
                user = code >> 4
                uid = ids[user]
                session = (uid * 2654435761 + day * 40503 + h // 4 * 97) & 0xFFFFFFFF
                lines.append(
                    f'{{"ts":"{days[day]}T{h:02d}:{m:02d}:{s:02d}Z","user":"u_{uid:08d}",'
                    f'"event":"{names[code & 15]}","session":"s_{session:08x}",'
                    f'"os":"{device_names[devices[uid % 100]]}",'
                    f'"v":{VERSIONS[(uid >> 7) % len(VERSIONS)]}}}\n')
            chunk = "".join(lines)
            out.write(chunk)
            size += len(chunk)
            written += len(lines)
            buckets[hour] = None
    assert written == n, (written, n)

    ordered = sorted(counts, reverse=True)
    top = max(1, users // 100)
    print(f"gen_events.py: {n:,} events, {users:,} users, {size:,} bytes "
          f"({size / n:.1f} bytes a line), {args.days} days from {days[0]}; events per user: "
          f"median {ordered[users // 2]}, max {ordered[0]:,}, top 1% of users have "
          f"{sum(ordered[:top]) / n:.1%} of events; {late:,} late lines "
          f"({late / n:.2%})", file=sys.stderr)


if __name__ == "__main__":
    main()
