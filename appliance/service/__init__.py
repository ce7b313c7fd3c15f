"""The one layer the CLI and the TUI both call: sessions over the vault, with role checks and auditing."""

from appliance.service.session import Session

__all__ = ["Session"]
