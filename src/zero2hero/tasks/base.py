"""The task contract: every fact about a task lives on its class.

A task says which corpus it reads and how, its study languages and k values, its training defaults, how it turns
examples into features, builds its head, decodes, scores and prices annotation. Reading files, batching, the
training loop, evaluation, tracking, the grid and the analysis are shared and ask the task. A new task is one module
in this package (the registry in `__init__` finds it); `tests/unit/test_task_contract.py` checks it.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..data.corpus import Corpus
from ..languages import SOURCE_LANG
from ..modeling.meta import ModelMeta

if TYPE_CHECKING:  # heads are built with torch; the registry is read without it (modeling/meta.py)
    from torch import nn

# k values of the study (docs/method.md §4): 0 = zero-shot
STUDY_K = (0, 10, 50, 100, 500, 1000)


@dataclass(frozen=True)
class TrainDefaults:
    """Training defaults of a task (docs/method.md §3); every one overridable by a parameter."""

    lr: float
    epochs: int
    batch_size: int
    max_length: int


class Task(ABC):
    name: str  # the registry key: `-P task=NAME`
    corpus: Corpus  # where its files lie (local layout, hub copy)
    targets: tuple[str, ...]  # the study's target languages (`langs=all`, grids without `langs`)
    k_values: tuple[int, ...] = STUDY_K  # a plan's default k list for the task
    k_unit: str = "examples"  # what one of k is, in messages (XQuAD: articles)
    score_metric: str  # which metric is `score`
    # which metric picks the best epoch on dev (`dev_score`); None = score_metric. XQuAD uses F1: exact match on
    # a small dev set moves in coarse steps and ties at 0 early in training, which would keep the first epoch.
    selection_metric: str | None = None
    defaults: TrainDefaults
    few_shot_defaults: TrainDefaults
    sampling_strategies: tuple[str, ...] = ("random", "shortest", "longest")
    # (min, max) `n_tokens` of a unit that few-shot sampling may draw; None = every unit (docs/method.md §4)
    few_shot_length_range: tuple[int, int] | None = None

    # What reading does with a sentence it can parse but must not use (UD: heads that are not a tree):
    # "error" = DataError with file and line, "skip" = left out and counted. Set by get_task from `bad_trees`.
    bad_trees: str = "error"

    # ---- data ----
    @abstractmethod
    def read_file(self, path: Path) -> list:
        """Parse one data file into examples (raises DataError with file and line)."""

    def file_for(self, data_dir: str | Path, lang: str, split: str) -> Path:
        from ..data.files import find_file

        return find_file(data_dir, self.corpus, lang, split)

    def has_split(self, data_dir: str | Path, lang: str, split: str) -> bool:
        from ..data.files import has_file

        return has_file(data_dir, self.corpus, lang, split)

    def read(self, data_dir: str | Path, lang: str, split: str) -> list:
        return self.read_file(self.file_for(data_dir, lang, split))

    def read_counted(self, data_dir: str | Path, lang: str, split: str) -> tuple[list, int]:
        """(examples, how many were left out under `bad_trees=skip`); readers that can skip override it."""
        return self.read(data_dir, lang, split), 0

    def split_selection(self, split: str) -> str:
        """Which part of `file_for(split)` the split is: "all" where every split has its own file (XQuAD keeps
        pool and test in one file). Part of the feature-cache key, so two splits of one file never collide."""
        return "all"

    def n_tokens(self, example, tokenizer=None) -> int:
        """Size of one example for few-shot records and length-based sampling: its words (UD: integer-ID
        lines; WikiANN: tokens). `tokenizer` is the source model's, for tasks that count subwords (XNLI)."""
        return len(example)

    def pool_split(self, data_dir: str | Path, lang: str) -> str:
        """The split that holds a language's few-shot pool (docs/method.md §4): train if on disk, else dev."""
        return "train" if self.has_split(data_dir, lang, "train") else "dev"

    def source_splits(self, data_dir: str | Path, stand_in: str, config) -> tuple:
        """(train, dev, test) Splits for source training: English of the task's corpus, capped by `config`
        (max_train_examples, max_eval_examples). Tasks whose English training data is another corpus, with an
        offline stand-in (docs/method.md §9), override it."""
        from ..data.splits import load_split

        return (load_split(self, data_dir, SOURCE_LANG, "train", config.max_train_examples),
                load_split(self, data_dir, SOURCE_LANG, "dev", config.max_eval_examples),
                load_split(self, data_dir, SOURCE_LANG, "test", config.max_eval_examples))

    def sampling_units(self, examples: list) -> list[tuple[str, list[int]]]:
        """Units that few-shot sampling draws (id, example indices); one per example unless a task groups
        them (XQuAD: whole articles)."""
        return [(getattr(example, "id", str(i)), [i]) for i, example in enumerate(examples)]

    def unit_size(self, examples: list, indices: list[int], tokenizer=None) -> int:
        """`n_tokens` of one sampling unit for few-shot records and eligibility: the sum over its examples
        unless a task counts units otherwise (XQuAD: the paragraphs of an article)."""
        return sum(self.n_tokens(examples[i], tokenizer) for i in indices)

    # ---- model ----
    @abstractmethod
    def label_vocabs(self, examples: list) -> dict[str, list[str]]:
        """Label vocabularies learned from training examples (empty for span tasks)."""

    @abstractmethod
    def build_head(self, hidden_size: int, meta: ModelMeta) -> nn.Module:
        """The task head; `head(hidden, batch)` returns a dict with `loss` when gold is in the batch."""

    # ---- features ----
    @abstractmethod
    def encode(self, examples: list, tokenizer, meta: ModelMeta, training: bool) -> list[dict]:
        """Tokenise examples into features (plain Python lists; several per example allowed)."""

    @abstractmethod
    def collate(self, features: list[dict], tokenizer) -> dict:
        """Pad a list of features into a batch of tensors (dynamic padding to the longest)."""

    def feature_length(self, feature: dict) -> int:
        return len(feature["input_ids"])

    def finalize(self, examples: list, features: list[dict], predictions: list, meta: ModelMeta) -> list:
        """Per-feature decoded outputs -> one prediction per example, in the form `score` compares with gold."""
        return predictions

    # ---- scoring ----
    @abstractmethod
    def score(self, examples: list, predictions: list) -> dict[str, float]:
        """Metrics in percent; must include `self.score_metric`."""

    @abstractmethod
    def score_counts(self, example, prediction) -> tuple[float, int]:
        """(correct, total) of one example for `score_metric`, which is 100 * the sum of correct over the sum of
        total: predictions.jsonl records it, and paired tests resample examples with it."""

    @abstractmethod
    def gold_of(self, example) -> dict:
        """The example's gold annotation for predictions.jsonl, named like the pyfunc output columns (`tags`,
        `heads`/`relations`, `label`; XQuAD: `answers`, every gold answer text)."""

    # ---- pyfunc ----
    # The registered model's columns, name -> type ("string", "long", "string[]" = a list of strings, ...):
    # they become its signature, so `mlflow models serve` rejects a request without a required column.
    pyfunc_inputs: dict[str, str]
    pyfunc_outputs: dict[str, str]
    pyfunc_example: dict  # one input row, logged as the model's input example

    @abstractmethod
    def examples_from_frame(self, frame: pd.DataFrame) -> list:
        """Turn a pyfunc input DataFrame into unlabelled examples."""

    def require_columns(self, frame: pd.DataFrame, *columns: str) -> None:
        """A clear error when a pyfunc input DataFrame lacks a column the task reads."""
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            from ..errors import Z2HError

            raise Z2HError(f"{self.name}: the input DataFrame needs the column(s) {', '.join(map(repr, columns))} "
                           f"(missing: {', '.join(missing)})")

    @abstractmethod
    def frame_from_predictions(self, predictions: list) -> pd.DataFrame:
        """Turn predictions into the pyfunc output DataFrame."""

    # ---- annotation cost (docs/method.md §6.4) ----
    # the task's price settings; a costs YAML overrides them under the task's name
    cost_defaults: dict[str, Any]
    # whether the price depends on the real size of the sampled shots (the analysis then reads their token count)
    priced_by_shot_tokens: bool = False

    @abstractmethod
    def annotation_cost(self, k: int, lang: str, prices: dict[str, Any], shot_tokens: int | None = None) -> float:
        """USD to annotate k units (`k_unit`) in `lang` under `prices` (the task's cost settings);
        `shot_tokens` is the real token count of the sampled shots where it is known."""
