"""User-facing errors: printed as one clear message, never as a traceback."""
from __future__ import annotations

from pathlib import Path


class Z2HError(Exception):
    """A problem with the user's input or environment (bad file, bad parameter, unreachable server).

    The CLI prints it without a traceback and exits with status 2; a run that hits it is marked FAILED.
    """


class DataError(Z2HError):
    """Malformed data: names the file and, where known, the 1-based line."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path, self.line = str(path), line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


class Terminated(KeyboardInterrupt):
    """SIGTERM (what `timeout`, SLURM and Ray send) handled like Ctrl-C: open runs end KILLED, summaries print."""


# SIGTERMs and SIGINTs received (their signal numbers): the handler's raise can be lost, see raise_if_terminated
_RECEIVED: list[int] = []


def _interruption(signum: int) -> KeyboardInterrupt:
    import signal

    return Terminated(f"terminated by signal {signum}") if signum == signal.SIGTERM else KeyboardInterrupt()


def raise_on_signals() -> None:
    """From now on SIGTERM raises `Terminated` and Ctrl-C (SIGINT) `KeyboardInterrupt` in the main thread, and both
    are remembered (call it from the main thread). A SIGINT that was ignored when the program started stays
    ignored."""
    import signal

    def handler(signum, frame):
        _RECEIVED.append(signum)
        raise _interruption(signum)

    signal.signal(signal.SIGTERM, handler)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, handler)


def raise_if_terminated() -> None:
    """Raise `Terminated` (SIGTERM) or `KeyboardInterrupt` (Ctrl-C) again if the signal arrived. The handler raises
    wherever the main thread happens to be; when that is a finalizer (a progress bar's or a generator's, run by the
    garbage collector) or C++ code calling back into Python, the exception is printed as "Exception ignored" or
    lost, and the program would finish its work as if no signal had come. The training and scoring loops, grid
    cells and search trials call this at every step, batch, cell and trial."""
    if _RECEIVED:
        raise _interruption(_RECEIVED[0])


def signals_reported() -> None:
    """The program has answered the signals received (an entry point returned 130 or 143): work started later in
    this process (a notebook's next call, the demo's next step) runs again instead of stopping at once."""
    _RECEIVED.clear()


def choose(kind: str, value: str, valid) -> str:
    """Return `value` if it is one of `valid`, else raise an error listing the valid choices."""
    valid = list(valid)
    if value not in valid:
        raise Z2HError(f"unknown {kind} {value!r}; valid: {', '.join(map(str, valid))}")
    return value
