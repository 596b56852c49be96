"""An independent model of funnel's documented semantics (man/funnel.1, SEMANTICS), for
test_funnel. Events are (entity, time in microseconds, set of steps met, 1-based).

Two formulations: `walk` follows the page's rules event by event (every mode); `reachable`
is a brute-force search over subsequences that the page's default mode must agree with."""

import itertools
import math


def hits_of(events, mode):
    """The (time, step) hits of one entity, in the order the page says they are taken."""
    hits = []
    for time, steps in events:
        if steps:
            hits.extend((time, step) for step in steps)
        elif mode == "strict-order":
            hits.append((time, 0))
    return sorted(hits)


def walk(events, step_count, window, mode):
    """(level, [time to step k or None]) by the page's rules."""
    chain = {}  # step -> (chain start, time reached): the latest chain to reach it
    first_time = {}  # step -> time from chain start when first reached
    started = False
    for time, step in hits_of(events, mode):
        if step == 0:
            if started:
                break
            continue
        if step == 1:
            chain[1] = (time, time)
            started = True
            first_time.setdefault(1, 0)
            if step_count == 1:
                break
            continue
        if mode == "strict-dedup" and step in chain:
            break
        if mode == "strict-order" and started and step - 1 not in chain:
            break
        if step - 1 not in chain:
            continue
        start, previous = chain[step - 1]
        if time - start > window:
            continue
        if mode == "strict-increase" and not previous < time:
            continue
        chain[step] = (start, time)
        first_time.setdefault(step, time - start)
        if step == step_count:
            break
    level = max(chain) if chain else 0
    return level, [first_time.get(k) for k in range(1, step_count + 1)]


def reachable(events, step_count, window):
    """Default mode by brute force: the highest k such that some hits h1 < ... < hk (in
    (time, step) order) meet steps 1..k with time(hk) - time(h1) <= window."""
    hits = hits_of(events, "default")
    best = 0
    for k in range(1, step_count + 1):
        positions = [[i for i, hit in enumerate(hits) if hit[1] == s] for s in range(1, k + 1)]
        found = any(all(a < b for a, b in zip(c, c[1:])) and
                    hits[c[-1]][0] - hits[c[0]][0] <= window
                    for c in itertools.product(*positions))
        if not found:
            break
        best = k
    return best


def nearest_rank(values, q):
    if not values:
        return None
    ordered = sorted(values)
    rank = min(max(math.ceil(q * len(ordered)), 1), len(ordered))
    return ordered[rank - 1]


def report(entities, step_count, window, mode):
    """The rows funnel prints (JSON Lines, no breakdown) for {entity: [(time, steps)]}."""
    counts = [0] * step_count
    times = [[] for _ in range(step_count)]
    for events in entities.values():
        level, first = walk(events, step_count, window, mode)
        for k in range(level):
            counts[k] += 1
            times[k].append(first[k])
    rows = []
    for k in range(step_count):
        previous = counts[k - 1] if k else counts[0]
        rows.append({
            "step": k + 1,
            "entities": counts[k],
            "from_previous": counts[k] / previous if previous else None,
            "from_first": counts[k] / counts[0] if counts[0] else None,
            "median_seconds": None if not times[k] else nearest_rank(times[k], 0.5) / 1e6,
            "p90_seconds": None if not times[k] else nearest_rank(times[k], 0.9) / 1e6,
        })
    return rows
