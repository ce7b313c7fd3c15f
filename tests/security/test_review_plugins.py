"""Review attacks on declared options and plug-ins: Aug-PE's noise at the extremes (the accountant overflowed or
asked for a 226 GiB array), DINO's ε = 0 with a huge λ (NaN weights, token 0 forever), and registry discovery of a
file that is no module name ("zerogen copy.py" registering a second "zerogen")."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from appliance.engine.debias import self_debias
from appliance.generate.dp import gaussian_epsilon, gdp_epsilon
from appliance.registry import Registry


@pytest.mark.parametrize("sigma", [1e-300, 1e-3, 0.05, 1e300, 5e-324])
def test_extreme_noise_gives_an_epsilon_not_a_crash(sigma: float) -> None:
    eps = gaussian_epsilon(sigma, 3, 1e-5)
    assert eps >= 0 and (eps > 100 if sigma < 1 else eps < 1e-3)


def test_the_closed_form_agrees_with_the_accountant_where_both_run() -> None:
    assert gaussian_epsilon(2.0, 3, 1e-5) == pytest.approx(gdp_epsilon(math.sqrt(3) / 2.0, 1e-5), abs=1e-3)


def test_debiasing_with_no_floor_and_a_huge_decay_stays_a_distribution() -> None:
    p = np.array([[0.5, 0.5], [0.7, 0.3]])
    q = np.array([[[0.9, 0.1], [0.1, 0.9]], [[0.6, 0.4], [0.1, 0.1]]])  # row 0: every token penalized
    out = self_debias(p, q, decay=1e300, epsilon=0.0)
    assert np.isfinite(out).all() and np.allclose(out.sum(axis=-1), 1.0)


def test_discovery_imports_only_module_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "review_plugins_pkg"
    pkg.mkdir()
    plugin = "from review_plugins_pkg import REG\nREG.register(type('P', (), {'name': 'one'}))\n"
    (pkg / "__init__.py").write_text("from appliance.registry import Registry\nREG = Registry('thing', __name__)\n")
    (pkg / "one.py").write_text(plugin)
    (pkg / "one copy.py").write_text(plugin)  # what a file manager makes of "duplicate"
    (pkg / "one (2).py").write_text(plugin)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import review_plugins_pkg

        reg: Registry = review_plugins_pkg.REG
        assert reg.names() == ["one"]
    finally:
        for name in [m for m in sys.modules if m.startswith("review_plugins_pkg")]:
            del sys.modules[name]
