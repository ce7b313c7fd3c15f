"""Privacy accounting for Private Evolution: the Gaussian mechanism composed over T rounds.

Each round releases one noisy histogram: every private seed adds one vote (L2 sensitivity 1 under adding or
removing a seed) and every bin gets N(0, σ²) noise. T rounds compose to (ε, δ)-DP; ε is computed with Google's
``dp-accounting`` privacy-loss-distribution accountant (tight for this composition) at δ = 1/(N·ln N), N the
number of private seeds, as in Aug-PE. The tests check it against the closed form: T Gaussian mechanisms with
noise σ compose exactly to one with noise σ/√T, i.e. μ-GDP with μ = √T/σ (Dong, Roth & Su, 2019), whose
δ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2) (Balle & Wang, 2018).
"""

from __future__ import annotations

import math

from appliance.errors import BadInput


def default_delta(n_private: int) -> float:
    if n_private < 2:
        raise BadInput("private evolution needs at least 2 private seed records")
    return 1.0 / (n_private * math.log(n_private))


# Outside this range of μ the accountant's discretized grid fails or explodes (σ = 1e-3: a 226 GiB array; σ = 0.05:
# 24 s; σ = 1e300: OverflowError), while the closed form is exact and instant; inside it both agree to 4 decimals.
_PLD_MU_RANGE = (1e-2, 8.0)


def gdp_epsilon(mu: float, delta: float) -> float:
    """ε of μ-GDP at ``delta`` by the closed form (bisection on δ(ε), computed in logs so nothing overflows)."""
    from scipy.special import log_ndtr

    if delta <= 0 or not math.isfinite(mu):
        return math.inf

    def delta_at(eps: float) -> float:
        a, b = log_ndtr(-eps / mu + mu / 2), eps + log_ndtr(-eps / mu - mu / 2)
        return math.exp(a) - math.exp(b) if b < a else 0.0

    if delta_at(0.0) <= delta:
        return 0.0
    lo, hi = 0.0, 1.0
    while delta_at(hi) > delta:
        lo, hi = hi, hi * 2
        if not math.isfinite(hi):
            return math.inf
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if delta_at(mid) > delta else (lo, mid)
    return hi


def gaussian_epsilon(noise_multiplier: float, rounds: int, delta: float) -> float:
    """ε of ``rounds`` Gaussian mechanisms with noise ``noise_multiplier`` (sensitivity 1) at ``delta``."""
    if noise_multiplier <= 0:
        return math.inf
    mu = math.sqrt(rounds) / noise_multiplier
    if not _PLD_MU_RANGE[0] <= mu <= _PLD_MU_RANGE[1]:
        return gdp_epsilon(mu, delta)
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant

    acc = pld_privacy_accountant.PLDAccountant()
    acc.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(noise_multiplier), rounds))
    return float(acc.get_epsilon(delta))
