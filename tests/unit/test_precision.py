"""`precision`: bf16 autocast where asked for (training steps and scoring alike), fp32 on CPU by default; recorded
only when set, so that runs made before the option keep their identity."""
from __future__ import annotations

import pytest
import torch

from zero2hero.config import parse_params
from zero2hero.data.conllu_reader import read_conllu
from zero2hero.errors import Z2HError
from zero2hero.stages.common import build_model
from zero2hero.tasks import get_task
from zero2hero.training.config import TrainConfig, precision_record
from zero2hero.training.evaluator import evaluate
from zero2hero.training.loop import train


class LinearOutputs:
    """The dtypes the encoder's Linear layers produce while it is hooked."""

    def __init__(self, model):
        self.dtypes: set[torch.dtype] = set()
        self.handles = [module.register_forward_hook(lambda _m, _i, out: self.dtypes.add(out.dtype))
                        for module in model.encoder.modules() if isinstance(module, torch.nn.Linear)]

    def close(self):
        for handle in self.handles:
            handle.remove()


@pytest.fixture(scope="module")
def pos_model(tiny_bert, data_dir):
    task = get_task("pos")
    examples = read_conllu(data_dir / "ud" / "en" / "en_ewt-ud-train.conllu")[:24]
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs(examples), 64, seed=1)
    return task, model, tokenizer, examples


@pytest.mark.parametrize("precision, expected", [("auto", torch.float32), ("fp32", torch.float32),
                                                 ("bf16", torch.bfloat16)])
def test_scoring_and_training_run_in_the_asked_precision(pos_model, precision, expected):
    task, model, tokenizer, examples = pos_model
    hooks = LinearOutputs(model)
    try:
        metrics = evaluate(model, task, tokenizer, examples, precision=precision)
        assert hooks.dtypes == {expected} and 0 <= metrics["accuracy"] <= 100
        hooks.dtypes.clear()
        features = task.encode(examples, tokenizer, model.meta, training=True)
        config = TrainConfig(lr=1e-4, epochs=1, batch_size=8, max_length=64, precision=precision)
        train(model, task, tokenizer, features, config)
        assert hooks.dtypes == {expected}
        assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast: the weights stay fp32
    finally:
        hooks.close()


def test_precision_is_recorded_as_the_format_that_runs():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert "precision" not in TrainConfig().as_params(cpu)  # CPU runs of before the option keep their params
    assert TrainConfig(precision="bf16").as_params(cpu)["precision"] == "bf16"
    assert TrainConfig(precision="fp32").as_params(cuda)["precision"] == "fp32"
    # auto is bf16 autocast on CUDA: such a run is never the same cell as a CPU run under auto (fp32)
    assert TrainConfig().as_params(cuda)["precision"] == "bf16"
    assert precision_record("auto", cuda) == precision_record("bf16", cpu) == {"precision": "bf16"}
    assert precision_record("auto", cpu) == {}
    for entry in ("source", "few_shot", "evaluate", "search"):
        assert parse_params(entry, _required(entry) + ["--precision", "bf16"]).precision == "bf16"
    with pytest.raises(Z2HError, match="precision='fp16' is not valid; choose one of: auto, fp32, bf16"):
        parse_params("few_shot", _required("few_shot") + ["--precision", "fp16"])


def _required(entry: str) -> list[str]:
    return {"source": ["--task", "pos"], "search": ["--task", "pos"],
            "evaluate": ["--task", "pos", "--model_uri", "m"],
            "few_shot": ["--task", "pos", "--model_uri", "m", "--lang", "tr", "--k", "5"]}[entry]


def test_auto_means_bf16_on_cuda_and_fp32_on_cpu():
    from zero2hero.training.config import number_format
    from zero2hero.training.loop import MICRO_BATCH_OVERHEAD

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert [number_format(cpu, p) for p in ("auto", "fp32", "bf16")] == ["fp32", "fp32", "bf16"]
    assert [number_format(cuda, p) for p in ("auto", "fp32", "bf16")] == ["bf16", "fp32", "bf16"]
    # bf16 makes a token cheaper but not a forward call: CPU micro-batches are cut less eagerly under it
    assert MICRO_BATCH_OVERHEAD["cpu", "bf16"] > MICRO_BATCH_OVERHEAD["cpu", "fp32"]


def test_a_search_study_is_named_as_before_unless_precision_is_set():
    from zero2hero.stages.search import default_study_name

    task = get_task("pos")
    auto = parse_params("search", ["--task", "pos"])
    before = parse_params("search", ["--task", "pos"])
    del before.values["precision"]  # the params of a search from before the option existed
    bf16 = parse_params("search", ["--task", "pos", "--precision", "bf16"])
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert default_study_name(task, auto, "m", cpu) == default_study_name(task, before, "m", cpu)
    assert default_study_name(task, bf16, "m", cpu) != default_study_name(task, auto, "m", cpu)
    # trials of a search under auto on a GPU run in bf16: they never join a CPU worker's fp32 study
    assert default_study_name(task, auto, "m", cuda) == default_study_name(task, bf16, "m", cpu)
