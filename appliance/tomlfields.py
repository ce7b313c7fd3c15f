"""Reading fields of a user's TOML file (task specs, policies) with one-line errors that name the field.

Task specs and policies are validated the same way: unknown keys are refused, a missing or mistyped field is named
with its dotted path, and booleans never pass for numbers. Each file kind makes one ``Fields`` with its own name.
"""

from __future__ import annotations

from typing import Any

from appliance.errors import BadInput, UserError

MISSING: Any = object()


class Fields:
    def __init__(self, what: str, *, nonempty_strings: bool = False) -> None:
        self.what = what
        self.nonempty_strings = nonempty_strings

    def fail(self, name: str, problem: str) -> UserError:
        return BadInput(f"invalid {self.what}: {name}: {problem}")

    def get(self, table: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...], default: Any = MISSING) -> Any:
        """``table[key]`` checked against ``kind`` (an int is accepted, as a float, where a float is asked for)."""
        name = f"{where}.{key}" if where else key
        if key not in table:
            if default is MISSING:
                raise self.fail(name, "missing field")
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(name, f"must be {want}, not a boolean")
        if not isinstance(value, kind):
            raise self.fail(name, f"must be {want}, not {type(value).__name__}")
        if self.nonempty_strings and isinstance(value, str) and not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def bounded(
        self, table: dict[str, Any], key: str, where: str, kind: type, low: float, high: float, default: Any = MISSING
    ) -> Any:
        """``get`` for a number that must lie in [low, high]; the message gives the range (NaN is out of range)."""
        value = self.get(table, key, where, kind, default)
        if not low <= value <= high:
            raise self.fail(f"{where}.{key}" if where else key, f"must be between {low} and {high}, not {value}")
        return value

    def no_unknown(self, table: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(f"{where}.{key}" if where else key, "unknown key")
