"""A naive reference for zscore's methods (stdlib only): each point is judged by statistics over
an explicit list of the points before it, recomputed from scratch (Holt-Winters: the textbook
recurrences, run from the start)."""

import math
import statistics


def robust_prediction(last):
    median = statistics.median(last)
    mad = statistics.median([abs(v - median) for v in last])
    if mad > 0:
        return median, mad / 0.6745
    return median, 1.253314 * statistics.fmean([abs(v - median) for v in last])


def seasonal_prediction(phases, phase, lookback):
    """phases: phase -> every value seen at it, oldest first."""
    mine = phases.get(phase, [])[-lookback:]
    kept = [values[-lookback:] for values in phases.values()]
    freedom = sum(len(values) - 1 for values in kept if values)
    if len(mine) < lookback or freedom == 0:
        return None
    squares = sum(sum((v - statistics.fmean(values)) ** 2 for v in values)
                  for values in kept if values)
    return statistics.fmean(mine), math.sqrt(squares / freedom * (1 + 1 / lookback))


def holt_winters_forecasts(values, m, alpha, beta, gamma):
    """One-step forecasts for values[2m:], from the initial states of zscore(1)."""
    if len(values) < 2 * m:
        return []
    level = statistics.fmean(values[:m])
    trend = (statistics.fmean(values[m:2 * m]) - level) / m
    season = [values[i] - level for i in range(m)]
    forecasts = []
    for t, y in enumerate(values):
        previous = season[t % m]
        forecasts.append(level + trend + previous)
        new_level = alpha * (y - previous) + (1 - alpha) * (level + trend)
        new_trend = beta * (new_level - level) + (1 - beta) * trend
        season[t % m] = gamma * (y - level - trend) + (1 - gamma) * previous
        level, trend = new_level, new_trend
    return forecasts


def holt_winters_prediction(values, m, alpha, beta, gamma, window):
    if len(values) < 2 * m:
        return None
    forecasts = holt_winters_forecasts(values + [0.0], m, alpha, beta, gamma)
    residuals = [y - f for y, f in zip(values, forecasts)][-window:]
    return forecasts[-1], math.sqrt(statistics.fmean([r * r for r in residuals]))


def predict(method, history, times, time, options):
    if method == "zscore" and len(history) >= 2:
        last = history[-options["window"]:]
        return statistics.fmean(last), statistics.stdev(last)
    if method == "robust" and len(history) >= 2:
        return robust_prediction(history[-options["window"]:])
    if method == "seasonal":
        phases = {}
        for t, v in zip(times, history):
            phases.setdefault(options["phase"](t), []).append(v)
        return seasonal_prediction(phases, options["phase"](time), options["lookback"])
    if method == "holt-winters":
        m = options["season_length"]
        return holt_winters_prediction(history, m, options["alpha"], options["beta"],
                                       options["gamma"], options.get("residual_window") or 2 * m)
    return None


def detect(values, method="zscore", window=30, alpha=0.1, threshold=3.0, direction="both",
           min_history=0, trigger=(1, 1), recover=1, times=None, **method_options):
    """One series: a list of dicts with expected/lower/upper/z/score/anomaly (None = null).
    seasonal needs times (epoch seconds) and phase (a function of a time) and lookback;
    holt-winters season_length, beta, gamma and residual_window (None: twice the season)."""
    defaults = {"zscore": min(window, 30), "robust": min(window, 30),
                "ewma": math.ceil(1 / alpha)}
    need = min_history or defaults.get(method, 0)
    options = dict(method_options, window=window, alpha=alpha)
    times = times or list(range(len(values)))
    history, ewma_mean, ewma_var = [], None, 0.0
    recent, alerting, calm = [], False, 0
    out = []
    for x, time in zip(values, times):
        seen = len(history)
        if method == "ewma":
            prediction = (ewma_mean, math.sqrt(ewma_var)) if seen >= 2 else None
        else:
            prediction = predict(method, history, times[:seen], time, options)
        if seen >= need and prediction is not None:
            expected, spread = prediction
            if spread > 0:
                z = (x - expected) / spread
                up, down, score = z > threshold, z < -threshold, math.erf(abs(z) / math.sqrt(2))
            else:
                z, up, down, score = None, x > expected, x < expected, None
            exceeds = {"both": up or down, "up": up, "down": down}[direction]
            recent = (recent + [exceeds])[-trigger[1]:]
            if not alerting:
                alerting, calm = sum(recent) >= trigger[0], 0
            elif exceeds:
                calm = 0
            else:
                calm += 1
                alerting = calm < recover
            out.append({"threshold": threshold, "expected": expected,
                        "lower": expected - threshold * spread,
                        "upper": expected + threshold * spread, "z": z, "score": score,
                        "anomaly": alerting and exceeds})
        else:
            out.append({"expected": None, "lower": None, "upper": None, "z": None,
                        "score": None, "anomaly": None})
        history.append(x)
        if ewma_mean is None:
            ewma_mean, ewma_var = x, 0.0
        else:
            delta = x - ewma_mean
            ewma_mean += alpha * delta
            ewma_var = (1 - alpha) * (ewma_var + delta * alpha * delta)
    return out
