"""`n_gpu_layers`: all layers when this llama.cpp build can offload to a GPU, none otherwise; the environment and
`--n-gpu-layers` override; nonsense is a one-line error."""

from __future__ import annotations

import llama_cpp
import pytest

from appliance.engine import loader
from appliance.errors import UserError


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in loader.GPU_LAYERS_ENV:
        monkeypatch.delenv(name, raising=False)


def test_default_follows_this_build() -> None:
    assert loader.default_gpu_layers() == (-1 if llama_cpp.llama_supports_gpu_offload() else 0)


@pytest.mark.parametrize("supported,expected", [(True, -1), (False, 0)])
def test_default_rule(monkeypatch: pytest.MonkeyPatch, supported: bool, expected: int) -> None:
    monkeypatch.setattr(loader, "gpu_offload_supported", lambda: supported)  # stands in for the other kind of build
    assert loader.default_gpu_layers() == expected


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "gpu_offload_supported", lambda: True)
    monkeypatch.setenv("APPLIANCE_N_GPU_LAYERS", "12")
    assert loader.default_gpu_layers() == 12
    monkeypatch.delenv("APPLIANCE_N_GPU_LAYERS")
    monkeypatch.setenv("APPLIANCE_GPU_LAYERS", "0")  # the older name still works
    assert loader.default_gpu_layers() == 0
    for bad in ("all", "-2", "1.5"):
        monkeypatch.setenv("APPLIANCE_N_GPU_LAYERS", bad)
        with pytest.raises(UserError, match="APPLIANCE_N_GPU_LAYERS"):
            loader.default_gpu_layers()


def test_bad_explicit_value_is_refused_before_loading(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(UserError, match="n_gpu_layers must be"):
        loader.load_model(tmp_path, None, n_gpu_layers=-5)
    assert not tmp_path.joinpath("model-cache").exists()


def test_generate_option_reaches_the_request() -> None:
    from appliance.cli import build_parser
    from appliance.service.generation import GenerationRequest

    args = build_parser().parse_args(["generate", "--task", "t.toml", "--n-gpu-layers", "20"])
    assert args.n_gpu_layers == 20
    assert "n_gpu_layers" in GenerationRequest.__dataclass_fields__
