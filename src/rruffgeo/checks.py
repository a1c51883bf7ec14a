"""Checks of settings values: each field of a settings dataclass names its check, and the
dataclass runs them when it is made (``Checked``), so a bad option fails at once with one line
naming the command-line option and the problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import MISSING, field, fields
from enum import Enum
from typing import Any

from rruffgeo.errors import UserError

#: Devices a setting may name: auto, cpu, cuda, cuda:N, mps.
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?|mps")


class SettingError(UserError, ValueError):
    """A setting out of its range; the message names the option and the problem."""


Check = Callable[[Any], str | None]


def setting(default: Any = MISSING, *, check: Check | None = None, option: str | None = None,
            changes_result: bool = True, unkeyed_value: Any = MISSING,
            default_factory: Any = MISSING) -> Any:
    """A settings field with its check (value -> problem or None), the command-line option
    that sets it (for error messages) and whether it changes a result (cache keys).

    ``unkeyed_value``: for a setting added after results were cached, the value that does
    what the code did before it existed. At that value the setting stays out of cache keys,
    so work folders keep their finished trainings; it is a value, not "the default", so a
    later change of the default cannot make old results pass for new ones."""
    meta = {"check": check, "option": option, "changes_result": changes_result,
            "unkeyed_value": unkeyed_value}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def at_least(low: float) -> Check:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return "must be a finite number"
        return None if v >= low else f"must be at least {low:g}"
    return check


def integer_at_least(low: int, high: int | None = None) -> Check:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int):
            return "must be a whole number"
        if v < low:
            return f"must be at least {low}"
        return None if high is None or v <= high else f"must be at most {high}"
    return check


def in_range(low: float, high: float, *, low_open: bool = False, high_open: bool = True
             ) -> Check:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return "must be a finite number"
        ok_low = v > low if low_open else v >= low
        ok_high = v < high if high_open else v <= high
        if ok_low and ok_high:
            return None
        return (f"must be in {'(' if low_open else '['}{low:g}, {high:g}"
                f"{')' if high_open else ']'}")
    return check


def one_of(enum: type[Enum]) -> Check:
    def check(v: Any) -> str | None:
        names = [str(m.value) for m in enum]
        return None if str(v) in names else f"choose one of {', '.join(names)}"
    return check


def device_name(v: Any) -> str | None:
    if isinstance(v, str) and DEVICE_PATTERN.fullmatch(v):
        return None
    return "choose auto, cpu, cuda, cuda:N or mps"


def sizes(high: int, count: tuple[int, int] = (1, 8)) -> Check:
    """A tuple of ``count[0]``-``count[1]`` whole numbers, each in 1..``high``."""
    def check(v: Any) -> str | None:
        if not isinstance(v, (tuple, list)) or not count[0] <= len(v) <= count[1]:
            return f"must be {count[0]} to {count[1]} numbers, one per stage"
        bad = [x for x in v if isinstance(x, bool) or not isinstance(x, int) or not 1 <= x <= high]
        return f"each must be a whole number from 1 to {high}" if bad else None
    return check


def numbers(check_one: Check, count: tuple[int, int] = (1, 64)) -> Check:
    """A tuple of ``count[0]``-``count[1]`` values, each passing ``check_one`` (a grid)."""
    def check(v: Any) -> str | None:
        if not isinstance(v, (tuple, list)) or not count[0] <= len(v) <= count[1]:
            return f"must be {count[0]} to {count[1]} values"
        problems = [p for p in map(check_one, v) if p is not None]
        return f"each value {problems[0]}" if problems else None
    return check


def _check_fields(obj: Any) -> None:
    """Coerce enum fields and run every field's check; SettingError naming the first bad one."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        check = f.metadata.get("check")
        if check is None:
            continue
        problem = check(value)
        if problem is None:
            enum = getattr(check, "enum", None)
            if enum is not None and not isinstance(value, enum):
                object.__setattr__(obj, f.name, enum(value))
            continue
        option = f.metadata.get("option") or f"{type(obj).__name__}.{f.name}"
        raise SettingError(f"{option} {_show(value)}: {problem}")


def _show(value: Any) -> str:
    value = value.value if isinstance(value, Enum) else value
    text = value if isinstance(value, str) and value.strip() == value and value else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def enum_check(enum: type[Enum]) -> Check:
    """``one_of(enum)`` that also turns a valid string into the enum member."""
    check = one_of(enum)
    check.enum = enum  # type: ignore[attr-defined]
    return check


class Checked:
    """Mixin: a settings section whose fields are checked when it is made."""

    def __post_init__(self) -> None:
        _check_fields(self)
