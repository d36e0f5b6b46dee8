"""Task registry: adding a task is one module here and one entry in TASKS."""
from __future__ import annotations

from importlib import import_module

from ..errors import choose

# name -> "module:Class"; imported lazily so that `z2h --help` stays fast
TASKS = {
    "pos": "pos:PosTask",
    "dep": "dep:DepTask",
    "ner": "ner:NerTask",
    "xnli": "xnli:XnliTask",
    "xquad": "xquad:XquadTask",
}


def get_task(name: str, bad_trees: str = "error"):
    """The task object for `name`, or an error listing the tasks that exist; `bad_trees` see Task.bad_trees."""
    choose("task", name, TASKS)
    module_name, class_name = TASKS[name].split(":")
    module = import_module(f"{__name__}.{module_name}")
    task = getattr(module, class_name)()
    task.bad_trees = choose("bad_trees value", bad_trees, ("error", "skip"))
    return task
