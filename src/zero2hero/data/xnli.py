"""NLI data: the XNLI TSV files of `data_dir/xnli` and the hub datasets facebook/xnli and nyu-mll/multi_nli."""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .examples import NliExample
from .text import one_line, read_text, write_lines

# Fixed label order; also the hub datasets' integer encoding (0, 1, 2), so both sources agree.
NLI_LABELS = ("entailment", "neutral", "contradiction")
HEADER = ("premise", "hypothesis", "label")
N_COLUMNS = 3


def read_xnli_tsv(path: str | Path) -> list[NliExample]:
    """Read `premise TAB hypothesis TAB label` lines (no header; a header line `premise hypothesis label` is skipped).

    Labels are matched case-insensitively against NLI_LABELS. Blank lines are skipped. Raises DataError with
    file and line for: a wrong number of columns, an unknown label, an empty premise or hypothesis, invalid
    UTF-8 and a file without any example. Example ids are `<file name>:<0-based index>`.
    """
    path = Path(path)
    examples: list[NliExample] = []
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) != N_COLUMNS:
            raise DataError(path, number, f"expected {N_COLUMNS} tab-separated columns (premise, hypothesis, label), "
                                          f"found {len(columns)}")
        premise, hypothesis, label = (column.strip() for column in columns)
        if number == 1 and (premise, hypothesis, label) == HEADER:
            continue
        if label.lower() not in NLI_LABELS:
            raise DataError(path, number, f"unknown label {label!r}; expected one of {', '.join(NLI_LABELS)}")
        if not premise or not hypothesis:
            raise DataError(path, number, "empty premise or hypothesis")
        examples.append(NliExample(f"{path.name}:{len(examples)}", premise, hypothesis, label.lower()))
    if not examples:
        raise DataError(path, None, "no examples; expected lines premise TAB hypothesis TAB label")
    return examples


def write_nli_rows(rows, path: Path, lang: str) -> None:
    """Hub NLI rows (premise, hypothesis, integer label as NLI_LABELS; -1 = no gold label, left out) -> TSV."""
    write_lines(path, (f"{one_line(row['premise'])}\t{one_line(row['hypothesis'])}\t{NLI_LABELS[int(row['label'])]}"
                        for row in rows if 0 <= int(row["label"]) < len(NLI_LABELS)))
