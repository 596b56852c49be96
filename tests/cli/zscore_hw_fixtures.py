"""Generate the frozen Holt-Winters oracle fixtures for `zscore --method holt-winters`.

What it does
    Builds a few synthetic metric series (trend + seasonality + Gaussian noise, from a fixed
    seed, stdlib RNG only), runs statsmodels' ExponentialSmoothing on each (additive trend, not
    damped, additive seasonality, fixed alpha/beta/gamma, optimized=False) and writes the
    one-step-ahead forecasts (`fittedvalues`) to fixtures/zscore_holt_winters.json next to this
    file. Each case also carries the same forecasts from an independent plain-Python
    implementation of the recurrences below; the script asserts both agree to 1e-9 relative
    before writing anything.

Convention (what sluice's C++ implements and what the fixtures encode)
    Initial state, "before y_0", from the first two seasons (needs len(y) >= 2m):
        L0    = mean(y[0:m])
        B0    = (mean(y[m:2m]) - mean(y[0:m])) / m
        S0[i] = y[i] - L0                                  for i in 0..m-1
    For t = 0, 1, ..., n-1, with s_{t-m} = S0[t] for t < m:
        yhat_t = l_{t-1} + b_{t-1} + s_{t-m}                (fittedvalues[t]; yhat_0 = L0+B0+S0[0])
        l_t    = alpha*(y_t - s_{t-m}) + (1-alpha)*(l_{t-1} + b_{t-1})
        b_t    = beta*(l_t - l_{t-1}) + (1-beta)*b_{t-1}
        s_t    = gamma*(y_t - l_{t-1} - b_{t-1}) + (1-gamma)*s_{t-m}
    The season update uses the PREVIOUS level and trend (l_{t-1} + b_{t-1}), not l_t, and gamma
    is used as given (no gamma*(1-alpha) rescaling). statsmodels' 'legacy-heuristic' init is
    NOT this (its level is the mean of y[0], y[m], y[2m], ... over the whole series), so the
    fixtures use initialization_method='known' with L0, B0, S0 computed here.

Re-running
    apt-get install -y python3-statsmodels        # Debian 12: statsmodels 0.13.5+dfsg-7
    /usr/bin/python3 tests/cli/zscore_hw_fixtures.py
    Generated with statsmodels 0.13.5 (Debian python3-statsmodels 0.13.5+dfsg-7), numpy 1.24.2,
    Python 3.11. The series depend only on random.Random(seed).random(), so re-running gives
    the same values; forecasts may differ from the frozen file in the last bits with another
    statsmodels/numpy.

Output: a JSON list of cases, each
    {"name", "season_length", "alpha", "beta", "gamma", "values": [...],
     "initial_level", "initial_trend", "initial_seasonal": [...],
     "forecasts": [statsmodels fittedvalues, one per value],
     "forecasts_python": [the same from the plain-Python recurrences]}
"""

import json
import math
import os
import random
import sys
import warnings

import numpy as np
import statsmodels
from statsmodels.tsa.holtwinters import ExponentialSmoothing

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "zscore_holt_winters.json")
SEED = 20240611
REL_TOL = 1e-9


def gauss(rng):
    """Standard normal by Box-Muller from rng.random() (stable across Python versions)."""
    u1 = 1.0 - rng.random()  # (0, 1]
    u2 = rng.random()
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def make_series(rng, n, m, base, slope, amp, noise, decimals):
    """base + slope*t + amp*pattern[t % m] + noise*N(0,1), rounded; pattern is a random
    zero-mean seasonal profile with a smooth component so it looks like a real cycle."""
    raw = [math.sin(2 * math.pi * i / m) + 0.5 * (rng.random() - 0.5) for i in range(m)]
    mean = sum(raw) / m
    pattern = [p - mean for p in raw]
    return [round(base + slope * t + amp * pattern[t % m] + noise * gauss(rng), decimals)
            for t in range(n)]


def initial_state(y, m):
    level = sum(y[0:m]) / m
    trend = (sum(y[m:2 * m]) / m - level) / m
    seasonal = [y[i] - level for i in range(m)]
    return level, trend, seasonal


def holt_winters_python(y, m, alpha, beta, gamma, level, trend, seasonal):
    """One-step-ahead forecasts, additive trend + additive season, textbook form."""
    s = list(seasonal)
    out = []
    for t, yt in enumerate(y):
        s_old = s[t % m]
        out.append(level + trend + s_old)
        new_level = alpha * (yt - s_old) + (1 - alpha) * (level + trend)
        new_trend = beta * (new_level - level) + (1 - beta) * trend
        s[t % m] = gamma * (yt - level - trend) + (1 - gamma) * s_old
        level, trend = new_level, new_trend
    return out


def holt_winters_statsmodels(y, m, alpha, beta, gamma, level, trend, seasonal):
    model = ExponentialSmoothing(
        np.asarray(y, dtype=float), trend="add", damped_trend=False, seasonal="add",
        seasonal_periods=m, initialization_method="known", initial_level=level,
        initial_trend=trend, initial_seasonal=seasonal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(smoothing_level=alpha, smoothing_trend=beta,
                        smoothing_seasonal=gamma, optimized=False)
    assert res.params["smoothing_level"] == alpha
    assert res.params["smoothing_trend"] == beta
    assert res.params["smoothing_seasonal"] == gamma
    assert res.params["initial_level"] == level and res.params["initial_trend"] == trend
    assert list(res.params["initial_seasons"]) == list(seasonal)
    fitted = [float(v) for v in np.asarray(res.fittedvalues)]
    assert len(fitted) == len(y)
    return fitted


# name, m, n, alpha, beta, gamma, base, slope, amp, noise, decimals
CASES = [
    ("quarterly_basic", 4, 60, 0.3, 0.1, 0.2, 100.0, 0.8, 12.0, 1.5, 4),
    ("weekly_beta_zero", 7, 140, 0.5, 0.0, 0.3, 250.0, 1.2, 40.0, 6.0, 4),
    ("hourly_gamma_zero", 24, 400, 0.2, 0.05, 0.0, 500.0, 0.3, 80.0, 10.0, 4),
    ("weekly_near_1e6", 7, 210, 0.4, 0.02, 0.1, 1.0e6, 0.5, 3.0, 0.2, 4),
    ("quarterly_high_alpha_falling", 4, 100, 0.9, 0.5, 0.05, 900.0, -2.5, 30.0, 4.0, 4),
    ("hourly_fast", 24, 240, 0.6, 0.3, 0.4, 50.0, 0.05, 15.0, 2.0, 4),
]


def main():
    rng = random.Random(SEED)
    cases = []
    worst = 0.0
    for name, m, n, alpha, beta, gamma, base, slope, amp, noise, decimals in CASES:
        assert 2 * m <= n
        values = make_series(rng, n, m, base, slope, amp, noise, decimals)
        level, trend, seasonal = initial_state(values, m)
        fc_sm = holt_winters_statsmodels(values, m, alpha, beta, gamma, level, trend, seasonal)
        fc_py = holt_winters_python(values, m, alpha, beta, gamma, level, trend, seasonal)
        for t, (a, b) in enumerate(zip(fc_sm, fc_py)):
            rel = abs(a - b) / max(abs(a), abs(b), 1e-300)
            worst = max(worst, rel)
            assert rel <= REL_TOL, f"{name}: t={t} statsmodels={a!r} python={b!r} rel={rel}"
        cases.append({
            "name": name, "season_length": m, "alpha": alpha, "beta": beta, "gamma": gamma,
            "values": values, "initial_level": level, "initial_trend": trend,
            "initial_seasonal": seasonal, "forecasts": fc_sm, "forecasts_python": fc_py,
        })
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    print(f"statsmodels {statsmodels.__version__}, numpy {np.__version__}: wrote {len(cases)} "
          f"cases to {OUT}; max rel diff statsmodels vs python = {worst:.3g}", file=sys.stderr)


if __name__ == "__main__":
    main()
