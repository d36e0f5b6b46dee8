"""Few-shot sampling (docs/method.md §4): the target-language pool, which units are eligible, the three strategies,
and the record of exactly what was drawn (`shots.jsonl`, docs/interface.md "Artifacts").

A *unit* is what sampling draws: one sentence for word-level tasks, a whole article for XQuAD
(`task.sampling_units`). The same (task, lang, k, sampling, seed, pool) always yields the same units.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from functools import cached_property

from ..errors import Z2HError
from .splits import Split, load_split

STRATEGIES = ("random", "shortest", "longest")


@dataclass(frozen=True)
class PoolSpec:
    """Where the pool comes from: the task's pool split (`auto`), or the first `carve_out` test items
    (sampling units: sentences, or whole articles for XQuAD)."""

    carve_out: int = 0

    @classmethod
    def parse(cls, text: str) -> "PoolSpec":
        """`auto` or `test:N` (N >= 1); ValueError otherwise (the config layer names the parameter)."""
        text = str(text).strip()
        if text == "auto":
            return cls()
        kind, _, count = text.partition(":")
        if kind == "test" and count.isdigit() and int(count) >= 1:
            return cls(int(count))
        raise ValueError("expected auto, or test:N (N >= 1) to use the first N test items as the pool")

    def __str__(self) -> str:
        return f"test:{self.carve_out}" if self.carve_out else "auto"


class TargetData:
    """A target language's scored test split and (read only when needed) its few-shot pool.

    With a carve-out the first N test items are the pool and the scored split is the rest, so no
    example is both trained on and scored. `max_eval_examples` caps the scored split (0 = all).
    """

    def __init__(self, task, data_dir: str, lang: str, pool: PoolSpec, max_eval_examples: int = 0):
        self.task, self.data_dir, self.lang, self.pool_spec = task, data_dir, lang, pool
        self.max_eval_examples = max_eval_examples
        test = load_split(task, data_dir, lang, "test")
        if pool.carve_out:
            # whole sampling units, so a grouped unit (an XQuAD article) is never part pool, part scored
            units = task.sampling_units(test.examples)
            if pool.carve_out >= len(units):
                raise Z2HError(f"pool=test:{pool.carve_out} leaves nothing to score: the {lang} test split "
                               f"({test.source}) has only {len(units)} items")
            carved = {index for _, indices in units[: pool.carve_out] for index in indices}
            unit_rule = "-units" if len(units) != len(test.examples) else ""
            self._carved = test.subset("pool", [ex for i, ex in enumerate(test.examples) if i in carved],
                                       f"first{unit_rule}:{pool.carve_out}")
            test = test.subset("test", [ex for i, ex in enumerate(test.examples) if i not in carved],
                               f"after{unit_rule}:{pool.carve_out}",
                               {"z2h.carve_out": f"first {pool.carve_out} test items are the pool"})
        self.test = test.head(max_eval_examples)

    @cached_property
    def pool(self) -> Split:
        """The pool split; a clear error when the language has none (naming the file and the carve-out)."""
        if self.pool_spec.carve_out:
            return self._carved
        split = self.task.pool_split(self.data_dir, self.lang)
        try:
            return load_split(self.task, self.data_dir, self.lang, split, name="pool")
        except Z2HError as exc:
            raise Z2HError(f"{self.task.name}: no few-shot pool for {self.lang!r}: {exc}. Give pool=test:N to use the "
                           "first N test items as the pool (they are then left out of scoring)") from None

    @cached_property
    def dev(self) -> Split | None:
        """The dev split when it is a file of its own, neither the pool's nor the test's (else None)."""
        try:
            path = self.task.file_for(self.data_dir, self.lang, "dev")
        except Z2HError:
            return None
        if str(path) in (self.pool.source, self.test.source):
            return None
        return load_split(self.task, self.data_dir, self.lang, "dev", self.max_eval_examples)


@dataclass(frozen=True)
class Shot:
    """One drawn unit: its 0-based position among the pool's units, its id, and its size."""

    index: int
    id: str
    n_tokens: int

    def to_json(self) -> str:
        return json.dumps({"index": self.index, "id": self.id, "n_tokens": self.n_tokens}, ensure_ascii=False)


@dataclass
class FewShotSample:
    shots: list[Shot]
    split: Split  # the drawn examples, as a split named "shots" (its content key covers the selection)
    eligible: int  # how many units of the pool were eligible

    def jsonl(self) -> str:
        return "".join(shot.to_json() + "\n" for shot in self.shots)


def check_sampling(task, sampling: str) -> None:
    """XNLI and XQuAD sample at random only (docs/method.md §4); each task lists the strategies it uses."""
    if sampling not in task.sampling_strategies:
        raise Z2HError(f"{task.name} uses sampling {', '.join(task.sampling_strategies)} only; not {sampling!r}")


def _eligible(task, pool: Split, tokenizer=None) -> tuple[list[Shot], list[list[int]]]:
    """The pool's units that may be drawn, in pool order, and the example indices of each."""
    low, high = task.few_shot_length_range or (0, float("inf"))
    units, members = [], []
    for position, (unit_id, indices) in enumerate(task.sampling_units(pool.examples)):
        size = task.unit_size(pool.examples, indices, tokenizer)
        if low <= size <= high:
            units.append(Shot(position, str(unit_id), size))
            members.append(indices)
    return units, members


def _order(strategy: str, units: list[Shot], rng_key: str) -> list[int]:
    """Positions into `units` in drawing order; ties go to the earlier unit in the pool file."""
    positions = list(range(len(units)))
    if strategy == "shortest":
        return sorted(positions, key=lambda i: (units[i].n_tokens, units[i].index))
    if strategy == "longest":
        return sorted(positions, key=lambda i: (-units[i].n_tokens, units[i].index))
    # A string seed is hashed with SHA-512 by `random`, so the order is stable across processes and
    # Python runs. k is not part of the key: a larger k extends the same draw (k=10 ⊂ k=50).
    random.Random(rng_key).shuffle(positions)
    return positions


def sample_few_shot(task, pool: Split, k: int, sampling: str, seed: int, pool_spec: PoolSpec | str = "auto",
                    tokenizer=None) -> FewShotSample:
    """Draw `k` units of `pool` with strategy `sampling` (random, shortest, longest).

    Word-level tasks draw only sentences within `task.few_shot_length_range` (3–50 words). Raises Z2HError for
    a strategy the task does not use and for a k larger than the eligible units (saying how many there are).
    `tokenizer` (the source model's) sizes units for tasks that count subwords (XNLI's `n_tokens`).
    """
    check_sampling(task, sampling)
    units, members = _eligible(task, pool, tokenizer)
    if k > len(units):
        bounds = task.few_shot_length_range
        rule = f" ({bounds[0]}–{bounds[1]} words)" if bounds else ""
        raise Z2HError(f"k={k} is larger than the few-shot pool: only {len(units)} units of the {pool.lang} pool "
                       f"{pool.source} are eligible{rule}; choose k <= {len(units)}")
    order = _order(sampling, units, f"{task.name}|{pool.lang}|{pool_spec}|{seed}")
    chosen = sorted(order[:k], key=lambda i: units[i].index)
    shots = [units[i] for i in chosen]
    indices = [index for i in chosen for index in members[i]]
    digest = hashlib.sha256(json.dumps(indices).encode()).hexdigest()[:12]
    split = pool.subset("shots", [pool.examples[i] for i in indices], f"shots:{digest}")
    return FewShotSample(shots, split, len(units))
