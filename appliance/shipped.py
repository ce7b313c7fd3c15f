"""Where the files shipped beside the code live: ``tasks/``, ``policies/`` and ``models/registry.toml``.

In a source checkout (``make``, ``pip install -e .``) they sit at the top of the tree, next to ``appliance/``. An
installed wheel has no source tree, so the offline bundle's build (``packaging/build_bundle.py``) packs copies into
``appliance/_shipped/``. One function decides, so every module finds them the same way in both layouts.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
PACKED_DIR = _PACKAGE / "_shipped"


def shipped_path(*parts: str) -> Path:
    """``shipped_path("policies")`` → the packed copy in an installed wheel, else the source tree's."""
    packed = PACKED_DIR.joinpath(*parts)
    if packed.exists():
        return packed
    return _PACKAGE.parent.joinpath(*parts)
