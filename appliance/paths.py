"""Where the appliance keeps its files.

One home directory per installation (``--home``, else ``$APPLIANCE_HOME``, else the platform's user data
directory). Everything the appliance writes lives under it: the encrypted vault, its key file, the audit
checkpoint, converted model caches. Nothing sensitive is written outside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

MODEL_CACHE_DIR = "model-cache"
USER_MODEL_REGISTRY = "models.toml"
RAY_DIR = "ray"  # a local Ray instance's private directory (appliance.cluster.runtime.ray_temp_dir)
CLUSTER_DIR = "cluster"  # TLS certificates for Ray (appliance.cluster.tls) and the local Ray node's files


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The installation's home directory (not created here)."""
    if home:
        return Path(home).expanduser().resolve()
    env = os.environ.get("APPLIANCE_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir("appliance", appauthor=False))


def model_cache_dir(home: Path) -> Path:
    """Derived model files (assembled Gemma, re-quantized copies). Public weights only, never user data."""
    d = home / MODEL_CACHE_DIR
    d.mkdir(parents=True, exist_ok=True)
    return d
