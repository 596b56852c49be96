"""A naive reference for zscore's zscore and ewma methods (stdlib only): each point is judged
by statistics over an explicit list of the points before it, recomputed from scratch."""

import math
import statistics


def detect(values, method="zscore", window=30, alpha=0.1, threshold=3.0, direction="both",
           min_history=0, trigger=(1, 1), recover=1):
    """One series: a list of dicts with expected/lower/upper/z/score/anomaly (None = null)."""
    need = min_history or (math.ceil(1 / alpha) if method == "ewma" else window)
    history, ewma_mean, ewma_var = [], None, 0.0
    recent, alerting, calm = [], False, 0
    out = []
    for x in values:
        seen = len(history)
        if seen >= need and seen >= 2:
            if method == "ewma":
                expected, spread = ewma_mean, math.sqrt(ewma_var)
            else:
                last = history[-window:]
                expected, spread = statistics.fmean(last), statistics.stdev(last)
            if spread > 0:
                z = (x - expected) / spread
                up, down, score = z > threshold, z < -threshold, math.erf(abs(z) / math.sqrt(2))
            else:
                z, up, down = None, x > expected, x < expected
                score = 1.0 if up or down else 0.0
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
