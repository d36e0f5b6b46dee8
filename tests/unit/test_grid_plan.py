"""The study plan of `grid`: defaults, per-task k, and errors that name the line."""
from __future__ import annotations

import pytest

from zero2hero.errors import DataError, Z2HError
from zero2hero.stages.plan import parse_plan
from zero2hero.tasks import task_class
from zero2hero.tracking.queries import canonical

PLAN = """\
experiment: study
tasks: [pos]
models: [bert-base-multilingual-cased, xlm-roberta-base]
langs: [tr, it]
k: {default: [0, 10], xquad: [0, 2]}
sampling: [random, longest]
seeds: [1, 2]
source: {epochs: 1, max_train_examples: 500}
few_shot: {epochs: 10, lr: 2e-4, freeze_embeddings: yes}
evaluate: {max_eval_examples: 300}
"""


def test_a_full_plan_keeps_section_values_as_typed():
    plan = parse_plan(PLAN)
    assert plan.experiment == "study" and plan.langs == ["tr", "it"] and plan.seeds == [1, 2]
    assert plan.ks("pos") == [0, 10] and plan.ks("xquad") == [0, 2]
    # the YAML text, parsed later by the entry points' own parsers (yes stays yes, 2e-4 stays 2e-4)
    assert plan.few_shot == {"epochs": "10", "lr": "2e-4", "freeze_embeddings": "yes"}


def test_defaults_follow_the_study():
    plan = parse_plan("tasks: pos\nmodels: m\n")
    assert plan.tasks == ["pos"] and plan.models == ["m"] and plan.langs == "all"
    assert plan.ks("pos") == [0, 10, 50, 100, 500, 1000] == list(task_class("pos").k_values)
    assert plan.ks("xquad") == [0, 2, 4, 6, 8, 10] == list(task_class("xquad").k_values)
    assert plan.sampling == ["random", "shortest", "longest"] and plan.seeds == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("text, line, message", [
    ("tasks: [pos]\nmodels: [m]\nfew_shot:\n  epochs: 1\n  lr: abc\n", 5, "few_shot.lr='abc' is not valid"),
    ("tasks: [pos]\nmodels: [m]\nsource: {task: pos}\n", 3, "the plan sets task itself"),
    ("tasks: [pos]\nmodels: [m]\nk: [0, -1]\n", 3, "'-1' is not an integer >= 0"),
    ("tasks: [pos]\nmodels: [m]\nk: {xquad: [0, 2]}\n", 3, "no list for 'pos'"),
    ("tasks: [pos]\nmodels: [m]\nlangs: [tr,\n  xx]\n", 4, "unknown 'xx'"),
    ("tasks: [pos]\nmodels: [m]\nsampling: [longest, longer]\n", 3, "unknown 'longer'"),
    ("tasks: [pos]\nmodels: [m]\nepochs: 3\n", 3, "unknown key 'epochs'"),
    ("tasks: [pos, nope]\nmodels: [m]\n", 1, "tasks: unknown 'nope'"),
    ("tasks: [pos\nmodels: [m]\n", 2, "not valid YAML"),
    ("tasks: [pos]\nmodels: [m]\nfew_shot: {pool: test:0}\n", 3, "few_shot.pool='test:0'"),
    ("tasks: [pos]\nmodels: [m]\nseeds: [1]\nseeds: [2]\n", 4, "'seeds' is given twice"),
    # two models under one short name would overwrite each other's registered @source model
    ("tasks: [pos]\nmodels:\n  - a/mbert\n  - b/mbert\n", 4, "share the short name 'mbert'"),
    ("tasks: [pos]\nmodels: [m, n]\nsource: {model_name: x}\n", 2, "model_name names every model"),
])
def test_mistakes_name_the_line(text, line, message):
    with pytest.raises(DataError, match=message) as caught:
        parse_plan(text, "study.yaml")
    assert caught.value.line == line and str(caught.value).startswith(f"study.yaml:{line}:")


def test_each_model_has_its_short_name():
    plan = parse_plan(PLAN)
    assert [plan.slug(model) for model in plan.models] == ["bert-base-multilingual-cased", "xlm-roberta-base"]
    assert parse_plan("tasks: [pos]\nmodels: [/x/minilm]\nsource: {model_name: mini}\n").slug("/x/minilm") == "mini"


def test_plan_needs_tasks_and_models():
    with pytest.raises(DataError, match="needs 'models'"):
        parse_plan("tasks: [pos]\n")
    with pytest.raises(DataError, match="empty"):
        parse_plan("")


def test_canonical_param_values_compare_numbers_and_booleans():
    assert canonical("2e-4") == canonical(0.0002) == canonical("0.0002")
    assert canonical("1") == canonical(1) and canonical(True) == canonical("yes") == canonical("true")
    assert canonical("models:/a/1") == "models:/a/1"


def test_model_and_data_paths_expand_environment_variables(monkeypatch):
    monkeypatch.setenv("MODELS", "/opt/models")
    plan = parse_plan("tasks: [pos]\nmodels: [$MODELS/minilm]\ndata_dir: ${MODELS}/data\n")
    assert plan.models == ["/opt/models/minilm"] and plan.data_dir == "/opt/models/data"
    monkeypatch.delenv("MODELS")
    with pytest.raises(DataError, match=r":2: '\$MODELS/minilm' names an environment variable that is not set"):
        parse_plan("tasks: [pos]\nmodels: [$MODELS/minilm]\n")


def test_the_demo_plan_is_valid(monkeypatch):
    from pathlib import Path

    from zero2hero.stages.plan import load_plan

    monkeypatch.setenv("MINILM_DIR", "/minilm")
    monkeypatch.setenv("Z2H_DATA_DIR", "/data")
    plan = load_plan(Path(__file__).resolve().parents[2] / "plans" / "demo.yaml")
    assert plan.tasks == ["pos", "dep", "ner"] and plan.models == ["/minilm"] and plan.ks("dep") == [0, 10, 100]


def test_the_executor_section_is_checked_with_its_line():
    from zero2hero.stages.plan import parse_plan

    base = "tasks: [pos]\nmodels: [m]\n"
    plan = parse_plan(base + "executor: {kind: ray, address: auto, gpus_per_worker: 0.5, cpus_per_worker: 2}\n")
    assert (plan.executor.kind, plan.executor.address, plan.executor.gpus_per_worker) == ("ray", "auto", 0.5)
    assert parse_plan(base).executor.kind == "local"  # the default
    for bad, message in [("{kind: spark}", "kind must be one of local, ray"), ("{gpus: 1}", "unknown executor"),
                         ("{gpus_per_worker: -1}", ">= 0"), ("{cpus_per_worker: 0}", "> 0"),
                         ("{workers: two}", "whole number")]:
        with pytest.raises(DataError, match=message) as error:
            parse_plan(base + f"executor: {bad}\n", "p.yaml")
        assert "p.yaml:3" in str(error.value)


def test_shards_partition_the_units():
    from zero2hero.config import parse_params
    from zero2hero.stages.grid import unit_shard

    langs = ["ar", "de", "es", "fi", "fr", "he", "hi", "it", "ja", "ko", "ru", "sv", "tr", "zh"]
    for count in (1, 3, 7):
        shards = [unit_shard("pos", "mbert", lang, count) for lang in langs]
        assert all(1 <= shard <= count for shard in shards)
        assert shards == [unit_shard("pos", "mbert", lang, count) for lang in langs]  # stable
    assert len(set(unit_shard("pos", "mbert", lang, 3) for lang in langs)) == 3
    assert parse_params("grid", ["--plan", "p.yaml", "--shard", "2/8"]).shard == "2/8"
    for bad in ("0/3", "4/3", "1", "a/b"):
        with pytest.raises(Z2HError, match="expected I/N"):
            parse_params("grid", ["--plan", "p.yaml", "--shard", bad])


def test_bad_trees_is_one_policy_for_the_whole_plan():
    from zero2hero.stages.plan import parse_plan

    assert parse_plan("tasks: [pos]\nmodels: [m]\n").bad_trees == "error"
    assert parse_plan("tasks: [pos]\nmodels: [m]\nbad_trees: skip\n").bad_trees == "skip"
    with pytest.raises(DataError, match="bad_trees: unknown 'drop'"):
        parse_plan("tasks: [pos]\nmodels: [m]\nbad_trees: drop\n")
    with pytest.raises(DataError, match="unknown parameter 'bad_trees'"):  # not per section: one policy
        parse_plan("tasks: [pos]\nmodels: [m]\nsource: {bad_trees: skip}\n")
