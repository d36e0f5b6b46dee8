"""Few-shot sampling rules (docs/method.md §4) on hand-made pools: eligibility, strategies, ties, determinism, errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zero2hero.data.examples import WordExample
from zero2hero.data.fewshot import PoolSpec, TargetData, sample_few_shot
from zero2hero.data.splits import Split
from zero2hero.errors import Z2HError
from zero2hero.tasks.pos import PosTask

SRC = Path(__file__).resolve().parents[2] / "src"


def pool_of(lengths: list[int], lang: str = "tr") -> Split:
    examples = [WordExample(id=f"s{i}", words=[f"w{j}" for j in range(n)], tags=["NOUN"] * n)
                for i, n in enumerate(lengths)]
    return Split("pool", lang, examples, f"/data/{lang}-pool.conllu", "0" * 64)


def indices(sample) -> list[int]:
    return [shot.index for shot in sample.shots]


def test_only_sentences_of_3_to_50_words_are_eligible():
    pool = pool_of([2, 3, 50, 51, 10, 1])
    sample = sample_few_shot(PosTask(), pool, 3, "random", seed=1)
    assert indices(sample) == [1, 2, 4]
    assert sample.eligible == 3
    assert [len(example) for example in sample.split.examples] == [3, 50, 10]


def test_shortest_and_longest_break_ties_by_file_position():
    pool = pool_of([5, 3, 4, 3, 7, 4, 7])
    task = PosTask()
    assert indices(sample_few_shot(task, pool, 2, "shortest", seed=1)) == [1, 3]
    assert indices(sample_few_shot(task, pool, 3, "shortest", seed=1)) == [1, 2, 3]  # 4 words at 2 and 5: 2 first
    assert indices(sample_few_shot(task, pool, 1, "longest", seed=1)) == [4]  # 7 words at 4 and 6: 4 first
    assert indices(sample_few_shot(task, pool, 3, "longest", seed=1)) == [0, 4, 6]
    # length-based draws do not depend on the seed
    assert indices(sample_few_shot(task, pool, 3, "longest", seed=7)) == [0, 4, 6]


def test_random_is_deterministic_seed_dependent_and_nested_in_k():
    pool = pool_of([4 + i % 20 for i in range(300)])
    task = PosTask()
    first = indices(sample_few_shot(task, pool, 20, "random", seed=3))
    assert first == indices(sample_few_shot(task, pool, 20, "random", seed=3))
    assert first != indices(sample_few_shot(task, pool, 20, "random", seed=4))
    assert set(indices(sample_few_shot(task, pool, 5, "random", seed=3))) <= set(first)
    carved = indices(sample_few_shot(task, pool, 20, "random", seed=3, pool_spec=PoolSpec(300)))
    assert carved != first  # another pool definition is another draw


def test_random_draw_is_the_same_in_another_process():
    """Python's string hashing is salted per process; the draw must not depend on it."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
        "from test_fewshot_sampling import pool_of, indices; from zero2hero.tasks.pos import PosTask;"
        "from zero2hero.data.fewshot import sample_few_shot;"
        "print(indices(sample_few_shot(PosTask(), pool_of([4 + i % 20 for i in range(300)]), 20, 'random', 3)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, str(SRC), str(Path(__file__).parent)], env=env,
                         capture_output=True, text=True, check=True).stdout
    here = indices(sample_few_shot(PosTask(), pool_of([4 + i % 20 for i in range(300)]), 20, "random", 3))
    assert json.loads(out) == here


def test_k_larger_than_the_eligible_pool_says_how_many_are_eligible():
    with pytest.raises(Z2HError, match=r"only 2 units .* eligible \(3–50 words\); choose k <= 2"):
        sample_few_shot(PosTask(), pool_of([2, 3, 60, 4]), 3, "shortest", seed=1)


def test_shots_jsonl_records_index_id_and_words():
    sample = sample_few_shot(PosTask(), pool_of([2, 4, 6]), 2, "longest", seed=1)
    lines = [json.loads(line) for line in sample.jsonl().splitlines()]
    assert lines == [{"index": 1, "id": "s1", "n_tokens": 4}, {"index": 2, "id": "s2", "n_tokens": 6}]


def test_unknown_strategy_for_the_task_is_an_error():
    class RandomOnly(PosTask):
        sampling_strategies = ("random",)

    with pytest.raises(Z2HError, match="random only"):
        sample_few_shot(RandomOnly(), pool_of([4, 5]), 1, "longest", seed=1)


def test_grouped_units_are_drawn_whole():
    """XQuAD draws whole articles: a unit is several examples, its size the sum of theirs."""

    class Articles(PosTask):
        few_shot_length_range = None

        def sampling_units(self, examples):
            return [(f"article{i // 2}", [i, i + 1]) for i in range(0, len(examples), 2)]

    sample = sample_few_shot(Articles(), pool_of([1, 2, 3, 4, 5, 6]), 2, "longest", seed=1)
    assert [(s.index, s.id, s.n_tokens) for s in sample.shots] == [(1, "article1", 7), (2, "article2", 11)]
    assert [len(example) for example in sample.split.examples] == [3, 4, 5, 6]


CONLLU = """# sent_id = a
1-2\tdel\t_\t_\t_\t_\t_\t_\t_\t_
1\tde\tde\tADP\t_\t_\t3\tcase\t_\t_
2\tel\tel\tDET\t_\t_\t3\tdet\t_\t_
3\tpueblo\tpueblo\tNOUN\t_\t_\t0\troot\t_\t_

# sent_id = b
1-2\tdel\t_\t_\t_\t_\t_\t_\t_\t_
1\tde\tde\tADP\t_\t_\t2\tcase\t_\t_
2\tel\tel\tDET\t_\t_\t0\troot\t_\t_
2.1\tx\tx\tX\t_\t_\t_\t_\t_\t_

"""


def write_ud(root: Path, lang: str, splits: dict[str, str]) -> Path:
    folder = root / "ud" / lang
    folder.mkdir(parents=True)
    for split, text in splits.items():
        (folder / f"{lang}_x-ud-{split}.conllu").write_text(text)
    return root


def test_ud_words_are_the_integer_id_lines(tmp_path):
    data_dir = write_ud(tmp_path, "tr", {"train": CONLLU, "test": CONLLU})
    target = TargetData(PosTask(), str(data_dir), "tr", PoolSpec())
    assert target.pool.source.endswith("tr_x-ud-train.conllu")
    # sentence b has 4 lines but 2 words (a range and an empty node are not words): not eligible
    with pytest.raises(Z2HError, match="only 1 units"):
        sample_few_shot(PosTask(), target.pool, 2, "random", seed=1)
    assert sample_few_shot(PosTask(), target.pool, 1, "random", seed=1).jsonl() == '{"index": 0, "id": "a", "n_tokens": 3}\n'


def test_dev_is_the_pool_without_train(tmp_path):
    data_dir = write_ud(tmp_path, "fi", {"dev": CONLLU, "test": CONLLU})
    target = TargetData(PosTask(), str(data_dir), "fi", PoolSpec())
    assert target.pool.source.endswith("fi_x-ud-dev.conllu")
    assert target.dev is None  # the dev split is the pool: no dev curve


def test_no_pool_names_the_file_and_offers_a_carve_out(tmp_path):
    data_dir = write_ud(tmp_path, "ar", {"test": CONLLU * 3})
    target = TargetData(PosTask(), str(data_dir), "ar", PoolSpec())
    with pytest.raises(Z2HError, match=r"no few-shot pool for 'ar'.*ud-dev\.conllu.*pool=test:N"):
        target.pool
    carved = TargetData(PosTask(), str(data_dir), "ar", PoolSpec.parse("test:2"))
    assert len(carved.pool.examples) == 2 and len(carved.test.examples) == 4
    assert carved.test.examples == TargetData(PosTask(), str(data_dir), "ar", PoolSpec()).test.examples[2:]
    assert "z2h.carve_out" in carved.test.tags
    with pytest.raises(Z2HError, match="leaves nothing to score"):
        TargetData(PosTask(), str(data_dir), "ar", PoolSpec(6))


@pytest.mark.parametrize("text", ["test", "test:0", "test:x", "train:5", ""])
def test_pool_parameter_is_auto_or_test_n(text):
    with pytest.raises(ValueError, match="test:N"):
        PoolSpec.parse(text)
    assert str(PoolSpec.parse("test:25")) == "test:25" and str(PoolSpec.parse("auto")) == "auto"
