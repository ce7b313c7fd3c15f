"""An empty Poisson batch still takes its noisy step.

Poisson sampling can draw nobody; the RDP accountant has already counted that step, so skipping it would spend less
noise than the reported ε assumes. ``dp_lora`` gives every trainable parameter a zero-size per-record gradient and
lets Opacus step. This checks that path on a tiny real model under the real Opacus optimizer (no language model needed).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _private_linear(noise_multiplier: float):
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    data = TensorDataset(torch.randn(16, 4), torch.randint(0, 2, (16,)))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    engine = PrivacyEngine(accountant="rdp")
    model, optimizer, loader = engine.make_private(
        module=model, optimizer=optimizer, data_loader=DataLoader(data, batch_size=4), noise_multiplier=noise_multiplier,
        max_grad_norm=1.0, poisson_sampling=True,
    )
    return model, optimizer


@pytest.mark.parametrize("noise_multiplier", [1.0, 0.0])
def test_an_empty_batch_takes_a_noisy_step(noise_multiplier: float) -> None:
    """With noise every parameter moves; without (the control) nothing does: the step adds noise and no signal."""
    from appliance.adapt.dp_lora import _empty_grad_samples

    model, optimizer = _private_linear(noise_multiplier)
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    optimizer.zero_grad(set_to_none=True)
    _empty_grad_samples(params)
    optimizer.step()
    moved = [float((p.detach() - b).abs().max()) for p, b in zip(params, before)]
    assert all((m > 0) == (noise_multiplier > 0) for m in moved), moved
