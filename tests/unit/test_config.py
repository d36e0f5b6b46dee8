"""Entry-point parameters: parsing, validation, task defaults."""
from __future__ import annotations

import pytest

from zero2hero.config import parse_params
from zero2hero.errors import Z2HError
from zero2hero.tasks import get_task
from zero2hero.training.config import TrainConfig


def test_flags_are_parameter_names_and_values_are_typed():
    params = parse_params("source", ["--task", "pos", "--lr=2e-4", "--max_train_examples", "2000",
                                     "--linear_decay", "yes"])
    assert params.task == "pos" and params.lr == 2e-4 and params.max_train_examples == 2000
    assert params.linear_decay is True and params.epochs is None
    assert params.given == {"task", "lr", "max_train_examples", "linear_decay"}


@pytest.mark.parametrize("argv, message", [
    (["--task", "pos", "--lr", "abc"], "lr='abc' is not valid"),
    (["--task", "pos", "--epochs", "0"], "expected an integer >= 1"),
    (["--task", "parsing"], "choose one of: dep, feats, ner, pos, xnli, xquad"),
    (["--task", "pos", "--learning_rate", "1"], "unknown parameter 'learning_rate'; valid: task, model"),
    (["--model", "x"], "parameter 'task' is required"),
])
def test_bad_parameters_say_what_is_valid(argv, message):
    with pytest.raises(Z2HError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_params("source", argv)


def test_task_defaults_follow_the_study_and_are_overridable():
    task = get_task("pos")
    config = TrainConfig.resolve(task.defaults, {"lr": 2e-4, "epochs": None})
    assert (config.epochs, config.batch_size, config.max_length) == (50, 128, 512)
    assert config.lr == 2e-4


def test_unknown_task_lists_tasks():
    with pytest.raises(Z2HError, match="unknown task 'foo'; valid: dep, feats, ner, pos, xnli, xquad"):
        get_task("foo")


@pytest.mark.parametrize("task, columns", [("pos", "'tokens'"), ("xnli", "'premise', 'hypothesis'"),
                                           ("xquad", "'question', 'context'")])
def test_pyfunc_input_without_the_task_columns_is_a_clear_error(task, columns):
    import pandas as pd

    with pytest.raises(Z2HError, match=f"{task}: the input DataFrame needs the column\\(s\\) {columns}"):
        get_task(task).examples_from_frame(pd.DataFrame({"text": ["a"]}))


@pytest.mark.parametrize("entry, argv, message", [
    ("source", ["--lr", "inf"], "lr='inf' is not valid: expected a finite number"),
    ("source", ["--lr", "nan"], "lr='nan' is not valid: expected a finite number"),
    ("source", ["--weight_decay", "-1"], "weight_decay='-1' is not valid: expected a finite number >= 0"),
    ("source", ["--weight_decay", "nan"], "weight_decay='nan' is not valid: expected a finite number"),
    ("source", ["--warmup_ratio", "nan"], "warmup_ratio='nan' is not valid: expected a finite number"),
    ("few_shot", ["--model_uri", "m", "--lang", "tr", "--k", "5", "--lr", "-inf"], "expected a finite number"),
    ("search", ["--lr_max", "inf"], "lr_max='inf' is not valid: expected a finite number"),
    ("search", ["--lr_min", "0"], "lr_min='0' is not valid: expected a finite number > 0"),
    ("search", ["--lrs", "5e-5,nan"], "lrs='5e-5,nan' is not valid: expected a finite number"),
    ("source", ["--bad_trees", "fix"], "bad_trees='fix' is not valid; choose one of: error, skip"),
])
def test_float_parameters_must_be_finite_and_in_range(entry, argv, message):
    with pytest.raises(Z2HError, match=message.replace("(", r"\(")):
        parse_params(entry, ["--task", "pos", *argv])


def test_mlproject_declares_the_parameters_as_config_defines_them():
    """MLproject and config.py cannot drift: every declared parameter exists with the same default, the command
    passes each one as its flag, and the entry points are the same."""
    from pathlib import Path

    import yaml

    from zero2hero.cli import RUNNERS
    from zero2hero.config import params_for

    project = yaml.safe_load((Path(__file__).resolve().parents[2] / "MLproject").read_text())
    assert set(project["entry_points"]) == set(RUNNERS)
    for entry, spec in project["entry_points"].items():
        defined = {param.name: param for param in params_for(entry)}
        for name, declared in (spec.get("parameters") or {}).items():
            assert name in defined, f"MLproject {entry}.{name} is not a parameter of {entry}"
            param = defined[name]
            assert f"--{name} {{{name}}}" in spec["command"], f"{entry}: the command does not pass {name}"
            if "default" in declared:
                assert not param.required, f"{entry}.{name} is required but MLproject gives it a default"
                default = declared["default"]
                assert param.parse(str(default)) == param.parse(str(param.default)) if param.default is not None \
                    else default == "", f"{entry}.{name}: MLproject default {default!r} vs config {param.default!r}"
            else:
                assert param.required, f"{entry}.{name}: MLproject has no default but config is not required"
