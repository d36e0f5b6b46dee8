"""How a parameter is defined once: name, type (its parser and checks), default, help, choices, required.

Entry-point parameters arrive as strings (MLproject does not check types), so every one has a parser that turns
the text into its value or says what was expected. Groups of parameters are dataclasses whose fields carry their
definition (`param(...)`); `params_of` lists them for `--help`, validation and the logged params
(docs/interface.md, "Parameters: general rules").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable

YES = ("yes", "true", "1", "y")
NO = ("no", "false", "0", "n", "")


def yes_no(value) -> bool:
    """`yes`/`no` (also true/false, 1/0, y/n; empty = no), the one spelling rule of every flag."""
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    raise ValueError("expected yes or no")


def text_list(value: str) -> list[str]:
    return [item.strip() for item in str(value).split(",") if item.strip()]


def finite(value: str) -> float:
    """A float that is a real number: inf and nan parse as floats but would poison training."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def at_least(parse: Callable[[str], Any], minimum, what: str, strict: bool = False) -> Callable[[str], Any]:
    """A parser that also checks `value >= minimum` (`>` with strict); the error says what was expected."""
    def check(value: str):
        number = parse(value)
        if number < minimum or (strict and number == minimum):
            raise ValueError(f"expected {what} {'>' if strict else '>='} {minimum}")
        return number

    return check


nonneg_int = at_least(int, 0, "an integer")
pos_int = at_least(int, 1, "an integer")
pos_float = at_least(finite, 0, "a finite number", strict=True)
nonneg_float = at_least(finite, 0, "a finite number")


def list_of(parse: Callable[[str], Any], what: str) -> Callable[[str], list]:
    def parse_list(value: str) -> list:
        items = [parse(item) for item in text_list(value)]
        if not items:
            raise ValueError(f"expected a comma-separated list of {what}")
        return items

    return parse_list


def optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An optional value: empty = not given (None); MLproject passes unset parameters as ""."""
    return lambda value: None if str(value).strip() == "" else parse(value)


def ratio(value: str) -> float:
    number = finite(value)
    if not 0 <= number < 1:
        raise ValueError("expected a number in [0, 1)")
    return number


def shard(value: str) -> str:
    """`I/N` with 1 <= I <= N, or empty for every unit."""
    text = str(value).strip()
    if not text:
        return ""
    index, sep, count = text.partition("/")
    if not (sep and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise ValueError("expected I/N with 1 <= I <= N, e.g. 2/8")
    return f"{int(index)}/{int(count)}"


@dataclass(frozen=True)
class Param:
    """One parameter. `choices` may be a function (the task names come from the registry, imported on use)."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    choices: tuple | Callable[[], tuple] = ()
    required: bool = False

    def valid_choices(self) -> tuple:
        return tuple(self.choices()) if callable(self.choices) else self.choices


def param(default: Any, parse: Callable[[str], Any], help: str, choices=(), required: bool = False):
    """A dataclass field that is also a parameter definition (its name is the field's)."""
    return field(default=default, metadata={"z2h": (parse, help, choices, required)})


def params_of(group, *, without: tuple[str, ...] = ()) -> list[Param]:
    """The parameters a dataclass group defines, in field order (fields without `param` are not parameters)."""
    found = []
    for item in fields(group):
        if "z2h" in item.metadata and item.name not in without:
            parse, help_text, choices, required = item.metadata["z2h"]
            found.append(Param(item.name, parse, item.default, help_text, choices if callable(choices) else tuple(choices),
                               required))
    return found
