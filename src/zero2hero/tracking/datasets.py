"""Splits as MLflow datasets: the run's inputs (dataset column and filter in the UI) and the datasets that
metrics on a logged model refer to (`search_logged_models(datasets=...)`)."""
from __future__ import annotations

import json
import warnings

import mlflow
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset

from ..data.splits import Split

# the split a run trains on vs. the ones it scores (dev picks the epoch, test gives the score)
CONTEXTS = {"train": "training", "pool": "training", "shots": "training", "dev": "evaluation", "test": "evaluation"}


class SplitDataset(MetaDataset):
    """Metadata only (name, digest, the file as source) plus a profile with the example count."""

    def __init__(self, split: Split):
        with warnings.catch_warnings():  # MLflow registers two local-file sources that both match a path
            warnings.simplefilter("ignore", UserWarning)
            source = resolve_dataset_source(split.source)
        self._examples = len(split.examples)
        super().__init__(source, name=split.dataset_name, digest=split.digest)

    @property
    def profile(self) -> dict:
        return {"num_examples": self._examples}

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "profile": json.dumps(self.profile)}


def log_split_inputs(*splits: Split) -> None:
    """Log splits as inputs of the active run, each with its context (training / evaluation) and, as an input
    tag, which part of the file it is (`z2h.selection`, also hashed into the digest)."""
    if splits:
        mlflow.log_inputs([SplitDataset(split) for split in splits],
                          contexts=[CONTEXTS.get(split.name, "evaluation") for split in splits],
                          tags_list=[{"z2h.selection": split.selection} for split in splits])
