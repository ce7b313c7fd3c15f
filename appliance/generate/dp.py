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


def gaussian_epsilon(noise_multiplier: float, rounds: int, delta: float) -> float:
    """ε of ``rounds`` Gaussian mechanisms with noise ``noise_multiplier`` (sensitivity 1) at ``delta``."""
    if noise_multiplier <= 0:
        return math.inf
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant

    acc = pld_privacy_accountant.PLDAccountant()
    acc.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(noise_multiplier), rounds))
    return float(acc.get_epsilon(delta))
