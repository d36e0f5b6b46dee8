"""Offline stand-ins for the English training sets (docs/method.md §9), chosen by the `stand_in` parameter.

`auto` uses the real set (MultiNLI, SQuAD) when it loads and the stand-in otherwise; `yes` always uses the
stand-in; `no` never does and stops with a message when the real set is missing. A stand-in is never silent:
it is logged as a warning, tagged `z2h.stand_in` and written into the run description (`mlflow.note.content`).
"""
from __future__ import annotations

import logging
from typing import Callable, TypeVar

from ..errors import Z2HError, choose
from .hub import RealDataUnavailable

log = logging.getLogger(__name__)

STAND_IN_CHOICES = ("auto", "yes", "no")
T = TypeVar("T")


def real_or_stand_in(stand_in: str, real: Callable[[], T], stand: Callable[[], T], real_name: str,
                     tag: str, description: str) -> tuple[T, dict[str, str]]:
    """Load the real data (`real()`) or the stand-in (`stand()`) as `stand_in` says.

    Returns (whatever the loader returned, run tags): the tags are empty for real data and otherwise name
    the stand-in (`z2h.stand_in` = `tag`) and describe it. Only `RealDataUnavailable` triggers the fallback:
    a real file that exists but is malformed is an error, never a reason to switch data silently.
    """
    choose("stand_in", stand_in, STAND_IN_CHOICES)
    if stand_in == "yes":
        reason = "stand_in=yes"
    else:
        try:
            return real(), {}
        except RealDataUnavailable as exc:
            if stand_in == "no":
                raise Z2HError(
                    f"{real_name} is not available ({exc}); stand_in=no forbids the offline stand-in. "
                    f"Make {real_name} available, or use stand_in=auto or yes ({description})"
                ) from None
            reason = str(exc)
    result = stand()
    note = f"Offline stand-in (docs/method.md §9, z2h.stand_in={tag}): {description} Why: {reason}."
    log.warning(note)
    return result, {"z2h.stand_in": tag, "mlflow.note.content": note}
