"""The task registry: every module of this package that defines a Task with a `name` registers it.

Adding a task is adding one module here; names, choices and per-task tables everywhere else come from
`task_names()` and `task_class()`. Modules are imported on first use, so `z2h --help` stays fast.
"""
from __future__ import annotations

import inspect
import pkgutil
from functools import cache
from importlib import import_module

from ..errors import choose
from .base import Task


@cache
def registry() -> dict[str, type[Task]]:
    """name -> Task class, in name order."""
    found: dict[str, type[Task]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = import_module(f"{__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, Task) and cls.__module__ == module.__name__ and not inspect.isabstract(cls)
                    and "name" in cls.__dict__):
                if cls.name in found:
                    raise RuntimeError(f"two tasks are named {cls.name!r}: {found[cls.name].__module__} and {cls.__module__}")
                found[cls.name] = cls
    return dict(sorted(found.items()))


def task_names() -> tuple[str, ...]:
    return tuple(registry())


def task_class(name: str) -> type[Task]:
    """The registered class of `name`, or an error listing the tasks that exist."""
    choose("task", name, registry())
    return registry()[name]


def get_task(name: str, bad_trees: str = "error") -> Task:
    """A task object for `name`; `bad_trees` see Task.bad_trees."""
    task = task_class(name)()
    task.bad_trees = choose("bad_trees value", bad_trees, ("error", "skip"))
    return task
