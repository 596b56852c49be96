"""A naive retention matrix, written from cohort(1)'s definitions with the standard library
only (zoneinfo reads the system tz database independently of cohort's tz library). Sets of
users per period, no bitmaps, no shared code with the tool."""

import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def parse_time(value):
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= 10 ** 11 else value
        return datetime.fromtimestamp(seconds, timezone.utc)
    if value.startswith("@"):
        return datetime.fromtimestamp(int(value[1:]), timezone.utc)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


class Calendar:
    def __init__(self, unit, tz, week_start):
        self.unit, self.zone = unit, ZoneInfo(tz)
        self.week_start = WEEKDAYS.index(week_start)

    def period(self, instant):
        """The first local date of the period holding `instant`."""
        local = instant.astimezone(self.zone).date()
        if self.unit == "day":
            return local
        if self.unit == "week":
            return local - timedelta(days=(local.weekday() - self.week_start) % 7)
        return local.replace(day=1)

    def advance(self, first_day, count):
        if self.unit == "day":
            return first_day + timedelta(days=count)
        if self.unit == "week":
            return first_day + timedelta(days=7 * count)
        months = first_day.year * 12 + first_day.month - 1 + count
        return date(months // 12, months % 12 + 1, 1)

    def start(self, first_day):
        return datetime.combine(first_day, time(0), self.zone).astimezone(timezone.utc)


def rate(retained, size):
    return str((Decimal(retained) / Decimal(size)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN))


ROLLING_SECONDS = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400}


def selected(wanted, name):
    """Whether an event called `name` is one of `wanted`: None (any event), a name or a list
    of names."""
    if wanted is None:
        return True
    return name in wanted if isinstance(wanted, list) else name == wanted


def property_text(event, path):
    """The text of the event's field `path` (dots go into nested objects): None when missing
    or null, "composite" markers for objects and arrays."""
    value = event
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return {"composite": True}
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def chooser(names, conditions):
    """A predicate: the event is one of `names` (see selected) and meets every FIELD=VALUE."""
    pairs = [condition.split("=", 1) for condition in conditions]
    return lambda event: selected(names, event.get("event")) and all(
        property_text(event, field) == value for field, value in pairs)


def resolve_aliases(events, aliases):
    """Events with each user replaced by the end of its alias chain ((from, to) pairs)."""
    links = {str(source): str(target) for source, target in aliases if str(source) != str(target)}

    def resolve(user):
        while user in links:
            user = links[user]
        return user
    return [dict(event, user=resolve(str(event["user"]))) for event in events]


def by_groups(events, starts, field):
    """[(value, users)] of --by: each user's value on their earliest start event (ties: the
    smallest value, None last), by value with None last."""
    first = {}
    for event in events:
        if not starts(event):
            continue
        value = property_text(event, field)
        key = (parse_time(event["ts"]), value is None, value or "")
        user = str(event["user"])
        if user not in first or key < first[user]:
            first[user] = key
    groups = {}
    for user, (_, no_value, value) in first.items():
        groups.setdefault(None if no_value else value, set()).add(user)
    values = sorted(v for v in groups if v is not None) + ([None] if None in groups else [])
    return [(value, groups[value]) for value in values]


def rolling_cells(events, calendar, unit, cohort, criterion, starts_, returns_, periods, as_of,
                  last):
    """Rolling windows: user's period k is [anchor + k*P, anchor + (k+1)*P)."""
    length = ROLLING_SECONDS[unit]
    starts, returns = {}, {}  # user -> sorted epoch seconds
    for event in events:
        instant = parse_time(event["ts"])
        if calendar.period(instant) > last:
            continue
        user, seconds = str(event["user"]), int(instant.timestamp())
        if starts_(event):
            starts.setdefault(user, []).append(seconds)
        if returns_(event):
            returns.setdefault(user, []).append(seconds)
    cohorts = {}  # first day -> [size, first anchor, last anchor, {offset: users}]
    for user, times in starts.items():
        times.sort()
        anchors = {}
        for seconds in times:
            period = calendar.period(datetime.fromtimestamp(seconds, timezone.utc))
            if cohort == "first" and anchors:
                break
            anchors.setdefault(period, seconds)
        for period, anchor in anchors.items():
            offsets = {(t - anchor) // length for t in returns.get(user, []) if t >= anchor}
            if criterion == "on-or-after" and offsets:
                offsets = set(range(max(offsets) + 1))
            totals = cohorts.setdefault(period, [0, anchor, anchor, {}])
            totals[0] += 1
            totals[1], totals[2] = min(totals[1], anchor), max(totals[2], anchor)
            for offset in offsets:
                totals[3][offset] = totals[3].get(offset, 0) + 1
    as_of_seconds = as_of.timestamp()
    cells = []
    for first_day in sorted(cohorts):
        size, first, latest, retained = cohorts[first_day]
        width = int((as_of_seconds - first) // length) + 1 if as_of_seconds >= first else 1
        if periods:
            width = min(width, periods)
        for offset in range(width):
            count = retained.get(offset, 0)
            cells.append({"cohort": first_day.isoformat(), "period": offset, "size": size,
                          "retained": count, "rate": rate(count, size),
                          "complete": latest + (offset + 1) * length <= as_of_seconds})
    return cells


def matrix(events, unit="day", tz="UTC", week_start="monday", cohort="first", criterion="on",
           start_event=None, return_event=None, periods=0, as_of=None, summary=False,
           windows="calendar", by=None, start_where=(), return_where=(), aliases=()):
    """The records `cohort matrix` prints for `events` (dicts with ts, user, event)."""
    calendar = Calendar(unit, tz, week_start)
    if not events:
        return []
    events = resolve_aliases(events, aliases)
    as_of = parse_time(as_of) if as_of else max(parse_time(e["ts"]) for e in events)
    settings = {"period_unit": unit, "tz": tz, "windows": windows, "cohort_type": cohort,
                "criterion": criterion}
    starts = chooser(start_event, start_where)
    returns = chooser(return_event, return_where)
    groups = by_groups(events, starts, by) if by else [(None, None)]
    cells, summaries = [], []
    for value, users in groups:
        chosen = [e for e in events if users is None or str(e["user"]) in users]
        group_cells = [dict(cell, **settings) for cell in group_matrix(
            chosen, calendar, unit, cohort, criterion, starts, returns, periods, as_of, windows)]
        label = {"by": value} if by else {}
        cells += [dict(label, **cell) for cell in group_cells]
        summaries += [dict(label, **record) for record in averages(group_cells, settings)]
    return cells + summaries if summary else cells


def group_matrix(events, calendar, unit, cohort, criterion, starts, returns, periods, as_of,
                 windows):
    last = calendar.period(as_of)
    if windows == "rolling":
        return rolling_cells(events, calendar, unit, cohort, criterion, starts, returns,
                             periods, as_of, last)
    started, active = {}, {}  # user -> set of periods
    for event in events:
        period = calendar.period(parse_time(event["ts"]))
        if period > last:
            continue
        user = str(event["user"])
        if starts(event):
            started.setdefault(user, set()).add(period)
        if returns(event):
            active.setdefault(user, set()).add(period)
    cohorts = {}
    for user, periods_started in started.items():
        for period in ([min(periods_started)] if cohort == "first" else periods_started):
            cohorts.setdefault(period, set()).add(user)
    cells = []
    for first_day in sorted(cohorts):
        members = cohorts[first_day]
        offset = 0
        while calendar.advance(first_day, offset) <= last and (periods == 0 or offset < periods):
            target = calendar.advance(first_day, offset)
            if criterion == "on":
                retained = sum(1 for user in members if target in active.get(user, ()))
            else:
                retained = sum(1 for user in members
                               if any(target <= p <= last for p in active.get(user, ())))
            complete = calendar.start(calendar.advance(target, 1)) <= as_of
            cells.append({"cohort": first_day.isoformat(), "period": offset,
                          "size": len(members), "retained": retained,
                          "rate": rate(retained, len(members)), "complete": complete})
            offset += 1
    return cells


def averages(cells, settings):
    totals = {}
    for cell in cells:
        if cell["complete"]:
            total = totals.setdefault(cell["period"], [0, 0, 0])
            total[0] += 1
            total[1] += cell["size"]
            total[2] += cell["retained"]
    return [dict({"summary": "average", "period": k, "cohorts": n, "size": s,
                  "retained": r, "rate": rate(r, s)}, **settings)
            for k, (n, s, r) in sorted(totals.items())]


if __name__ == "__main__":
    import sys
    for record in matrix([json.loads(line) for line in sys.stdin if line.strip()]):
        print(json.dumps(record, separators=(",", ":")))
