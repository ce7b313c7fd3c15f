"""The thread count a user asked for (``--threads``, ``$APPLIANCE_THREADS``), checked once for every library that
runs threads: llama.cpp (``engine.threads``) and torch (embeddings, task models, SunGen). A module of its own so that
the torch side can read it without importing ``appliance.engine``, which loads llama.cpp and must come before numpy.
"""

from __future__ import annotations

import os

# More threads than any workstation has cores: a larger count is a typo, and llama.cpp would start that many spinning
# threads (each one past the cores slows every other).
MAX_THREADS = 1024


def explicit_threads(requested: int | None = None) -> int | None:
    """The thread count asked for: ``requested``, else ``$APPLIANCE_THREADS``, else None (choose the free cores).
    A count outside 1..``MAX_THREADS`` is a one-line ``BadInput``, not silently replaced by another."""
    from appliance.errors import BadInput

    env = os.environ.get("APPLIANCE_THREADS", "").strip()
    for value, name in ((requested, "threads"), (env or None, "APPLIANCE_THREADS")):
        if value is None:
            continue
        n = int(value) if str(value).isdigit() else -1
        if not 1 <= n <= MAX_THREADS:
            raise BadInput(f"{name} must be a whole number from 1 to {MAX_THREADS}, not {str(value)[:20]!r}")
        return n
    return None
