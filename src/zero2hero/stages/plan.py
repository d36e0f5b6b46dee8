"""The study plan that `grid` runs (YAML, docs/interface.md "Study plan"), validated with the file and line of every mistake.

Section overrides (`source`, `few_shot`, `evaluate`) keep the YAML text of each value and are checked with
the entry points' own parameter parsers, so `lr: 2e-4` means exactly what `-P lr=2e-4` means.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..config import params_for
from ..data.fewshot import STRATEGIES
from ..errors import DataError, Z2HError
from ..languages import KNOWN_LANGS
from ..modeling.encoder import model_slug
from ..tasks import task_class, task_names

# The plan itself sets these; a section may set every other parameter of its entry point.
PLAN_OWNED = {
    "source": {"task", "model", "data_dir"},
    "few_shot": {"task", "model_uri", "lang", "k", "sampling", "seed", "data_dir"},
}
# The plan's top-level `bad_trees` sets the policy for every stage (the grid reads all data with one policy).
NOT_IN_PLANS = {"bad_trees"}
SECTIONS = {
    "source": [p for p in params_for("source") if p.name not in PLAN_OWNED["source"] | NOT_IN_PLANS],
    "few_shot": [p for p in params_for("few_shot") if p.name not in PLAN_OWNED["few_shot"] | NOT_IN_PLANS],
    "evaluate": [p for p in params_for("few_shot") if p.name in ("max_eval_examples", "eval_batch_size", "precision")],
}
KEYS = ("experiment", "tasks", "models", "langs", "k", "sampling", "seeds", "data_dir", "bad_trees", *SECTIONS,
        "executor")
EXECUTORS = ("local", "ray")


@dataclass
class Executor:
    """Where the grid's cells run: `local` (this process, one cell after another) or `ray` (a Ray cluster).

    address: none = a Ray instance started for the run with `workers` x `cpus_per_worker` CPUs; `auto`, or
    `ray://host:10001`, or `host:6379` = an existing cluster (RAY_ADDRESS too). Fractional GPUs share a GPU.
    """

    kind: str = "local"
    address: str = ""
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    workers: int = 0  # a started instance's CPU count / cpus_per_worker (0 = every CPU of this machine)
    max_retries: int = 2  # restarts of a unit whose worker process died

    FIELDS = {"kind": str, "address": str, "gpus_per_worker": float, "cpus_per_worker": float, "workers": int,
              "max_retries": int}

    def override(self, name: str, raw: str) -> None:
        """Set one field from text (a plan value or a -P parameter); ValueError says what was expected."""
        if name not in self.FIELDS:
            raise ValueError(f"unknown executor setting {name!r}; valid: {', '.join(self.FIELDS)}")
        raw = raw.strip()
        if name == "kind" and raw not in EXECUTORS:
            raise ValueError(f"kind must be one of {', '.join(EXECUTORS)}")
        try:
            value = self.FIELDS[name](raw)
        except ValueError:
            raise ValueError(f"{name} needs a {'number' if self.FIELDS[name] is float else 'whole number'}") from None
        if self.FIELDS[name] is not str and not (value >= 0 and value < float("inf")):
            raise ValueError(f"{name} must be a finite number >= 0")
        if name == "cpus_per_worker" and value <= 0:
            raise ValueError("cpus_per_worker must be > 0")
        setattr(self, name, value)


@dataclass
class StudyPlan:
    path: str
    text: str
    tasks: list[str]
    models: list[str]
    experiment: str = "zero2hero"
    langs: list[str] | str = "all"
    k: dict[str, list[int]] = field(default_factory=dict)  # task or "default" -> k list; unset = the task's k_values
    sampling: list[str] = field(default_factory=lambda: list(STRATEGIES))
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    data_dir: str = "../shared/data"
    source: dict[str, str] = field(default_factory=dict)
    few_shot: dict[str, str] = field(default_factory=dict)
    evaluate: dict[str, str] = field(default_factory=dict)
    executor: Executor = field(default_factory=Executor)
    bad_trees: str = "error"  # UD sentences whose heads are not a tree: error, or skip (and count)

    def ks(self, task: str) -> list[int]:
        """The plan's k list for `task` (its own, else the plan's default), else the task's study k values."""
        if task in self.k:
            return self.k[task]
        return self.k["default"] if "default" in self.k else list(task_class(task).k_values)

    def slug(self, model: str) -> str:
        """The model's short name in run and registry names (`source.model_name`, else derived from the model)."""
        return model_slug(model, self.source.get("model_name", ""))


class _Reader:
    """Turns YAML nodes into checked values; every error names the plan file and the node's line."""

    def __init__(self, path: str):
        self.path = path

    def error(self, node, message: str) -> DataError:
        return DataError(self.path, node.start_mark.line + 1, message)

    def text(self, node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":null") or not node.value.strip():
            raise self.error(node, f"{what} needs a single value")
        return node.value.strip()

    def items(self, node, what: str) -> list:
        """A list, or a single value taken as a list of one."""
        if isinstance(node, yaml.ScalarNode):
            return [node]
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.error(node, f"{what} needs a non-empty list")
        return node.value

    def mapping(self, node, what: str) -> list[tuple[str, object, object]]:
        """(key, key node, value node) per entry; duplicate keys are an error."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} needs a mapping (name: value)")
        seen, entries = set(), []
        for key_node, value_node in node.value:
            key = self.text(key_node, f"a key of {what}")
            if key in seen:
                raise self.error(key_node, f"{what}: {key!r} is given twice")
            seen.add(key)
            entries.append((key, key_node, value_node))
        return entries

    def ints(self, node, what: str, minimum: int) -> list[int]:
        values = []
        for item in self.items(node, what):
            raw = self.text(item, what)
            if not raw.lstrip("-").isdigit() or int(raw) < minimum:
                raise self.error(item, f"{what}: {raw!r} is not an integer >= {minimum}")
            values.append(int(raw))
        return values

    def choices(self, node, what: str, valid) -> list[str]:
        values = []
        for item in self.items(node, what):
            raw = self.text(item, what)
            if raw not in valid:
                raise self.error(item, f"{what}: unknown {raw!r}; valid: {', '.join(valid)}")
            values.append(raw)
        return values

    def k(self, node) -> dict[str, list[int]]:
        if not isinstance(node, yaml.MappingNode):
            return {"default": self.ints(node, "k", 0)}
        valid = ("default", *task_names())  # a plan may keep k lists for tasks it does not run now
        per_task = {}
        for key, key_node, value in self.mapping(node, "k"):
            if key not in valid:
                raise self.error(key_node, f"k: unknown {key!r}; valid: {', '.join(valid)}")
            per_task[key] = self.ints(value, f"k.{key}", 0)
        return per_task

    def section(self, node, name: str) -> dict[str, str]:
        specs = {spec.name: spec for spec in SECTIONS[name]}
        overrides = {}
        for key, key_node, value_node in self.mapping(node, name):
            if key not in specs:
                owned = f" (the plan sets {key} itself)" if key in PLAN_OWNED.get(name, ()) else ""
                raise self.error(key_node, f"{name}: unknown parameter {key!r}{owned}; valid: {', '.join(specs)}")
            raw = self.text(value_node, f"{name}.{key}")
            spec = specs[key]
            choices = spec.valid_choices()
            if choices and raw not in choices:
                raise self.error(value_node, f"{name}.{key}={raw!r}: choose one of {', '.join(choices)}")
            try:
                spec.parse(raw)
            except ValueError as exc:
                raise self.error(value_node, f"{name}.{key}={raw!r} is not valid: {exc}") from None
            overrides[key] = raw
        return overrides


def parse_plan(text: str, path: str = "plan.yaml") -> StudyPlan:
    """Read and check a study plan; raises DataError naming the line of the first mistake."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise DataError(path, line, f"not valid YAML: {exc.problem}") from None
    if root is None:
        raise DataError(path, None, "the plan is empty; it needs at least tasks and models (docs/interface.md, 'Study plan')")
    reader = _Reader(path)
    entries = {}
    for key, key_node, value_node in reader.mapping(root, "the plan"):
        if key not in KEYS:
            raise reader.error(key_node, f"unknown key {key!r}; valid: {', '.join(KEYS)}")
        entries[key] = value_node
    for required in ("tasks", "models"):
        if required not in entries:
            raise DataError(path, None, f"the plan needs {required!r} (docs/interface.md, 'Study plan')")
    plan = StudyPlan(path=path, text=text, tasks=reader.choices(entries["tasks"], "tasks", task_names()),
                     models=[_expand(reader, node, reader.text(node, "models"))
                             for node in reader.items(entries["models"], "models")])
    if "experiment" in entries:
        plan.experiment = reader.text(entries["experiment"], "experiment")
    if "data_dir" in entries:
        plan.data_dir = _expand(reader, entries["data_dir"], reader.text(entries["data_dir"], "data_dir"))
    if "langs" in entries:
        node = entries["langs"]
        is_all = isinstance(node, yaml.ScalarNode) and node.value.strip() == "all"
        plan.langs = "all" if is_all else reader.choices(node, "langs", KNOWN_LANGS)
    if "k" in entries:
        plan.k = reader.k(entries["k"])
        for task in plan.tasks:
            if task not in plan.k and "default" not in plan.k:
                raise reader.error(entries["k"], f"k has no list for {task!r} and no 'default'")
    if "bad_trees" in entries:
        plan.bad_trees = reader.choices(entries["bad_trees"], "bad_trees", ("error", "skip"))[0]
    if "sampling" in entries:
        plan.sampling = reader.choices(entries["sampling"], "sampling", STRATEGIES)
    if "seeds" in entries:
        plan.seeds = reader.ints(entries["seeds"], "seeds", 0)
    for name in SECTIONS:
        if name in entries:
            setattr(plan, name, reader.section(entries[name], name))
    if "executor" in entries:
        for key, _, value_node in reader.mapping(entries["executor"], "executor"):
            try:
                plan.executor.override(key, reader.text(value_node, f"executor.{key}"))
            except ValueError as exc:
                raise reader.error(value_node, f"executor.{key}: {exc}") from None
    _check_slugs(plan, reader, entries["models"])
    return plan


def _check_slugs(plan: StudyPlan, reader: _Reader, node) -> None:
    """Two models with one short name would register into one `z2h-<task>-<slug>` and overwrite its @source."""
    seen: dict[str, str] = {}
    for model, item in zip(plan.models, reader.items(node, "models")):
        slug = plan.slug(model)
        if slug in seen:
            why = ("source.model_name names every model of the plan; leave it out when the plan has several models"
                   if plan.source.get("model_name") else "give the directories distinct names")
            raise reader.error(item, f"models {seen[slug]!r} and {model!r} share the short name {slug!r} "
                                     f"(run and registry names); {why}")
        seen[slug] = model


def _expand(reader: _Reader, node, value: str) -> str:
    """Paths may name environment variables (`$HOME/models/x`, `${DATA}`), so one plan serves many machines."""
    expanded = os.path.expanduser(os.path.expandvars(value))
    if "$" in expanded:
        raise reader.error(node, f"{value!r} names an environment variable that is not set")
    return expanded


def load_plan(path: str | Path) -> StudyPlan:
    path = Path(path).expanduser()
    if not path.is_file():
        raise Z2HError(f"plan {str(path)!r} is not a file; expected a study plan YAML (docs/interface.md, 'Study plan')")
    from ..data.text import read_text

    return parse_plan(read_text(path), str(path))
