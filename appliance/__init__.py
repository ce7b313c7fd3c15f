"""Offline synthetic-data appliance for sensitive domains.

Data flows one way through the stages, each a subpackage:
``spec`` (task specs) → ``generate`` (methods) → ``engine`` (local GGUF model) →
``guard`` (privacy gate) → ``quality`` → ``vault`` (encrypted store) → ``export``.
``service`` is the one layer the CLI and the TUI both call.
"""

__version__ = "0.1.0"
