"""Hugging Face hub copies of the data sets, for users with internet access.

`data_dir=hub` reads WikiANN, XNLI and XQuAD from the hub; under a local data_dir, English data that is not on
disk (MultiNLI and SQuAD train, English XNLI/XQuAD) is fetched from the hub too. Each hub split is written once,
in the local format and layout (INTERFACE.md), under `$Z2H_CACHE_DIR/hub/`:

    wikiann/<lang>/<split>-<lang>.tsv   xnli/<split>-<lang>.tsv   xquad/xquad.<lang>.json
    squad/{train,dev}-v1.1.json         multinli/train-en.tsv

so that one reader per format, content hashes, the feature cache and the logged provenance work exactly as for
local files. Loading is always optional: where it fails (no network, `HF_HUB_OFFLINE=1`, an unknown config) the
caller gets `RealDataUnavailable` saying why, and decides (a stand-in, SPEC §9, or a message naming the file).
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import Z2HError
from .layout import HUB, PATTERNS, find_file, has_file
from .splits import Split, load_split
from .text import file_sha256, one_line, write_lines

log = logging.getLogger(__name__)


class RealDataUnavailable(Z2HError):
    """A real data set (not a stand-in) could not be loaded from disk or the hub."""


@dataclass(frozen=True)
class HubSet:
    """Where a data kind lives on the hub: its id, our split -> its split, our language -> its config."""

    hub_id: str
    splits: dict[str, str]
    config: Callable[[str], str | None]
    langs: tuple[str, ...] | None  # None: every language (WikiANN has 176)
    write: Callable[[object, Path, str], None]


def _write_wikiann(rows, path: Path, lang: str) -> None:
    from .wikiann import wikiann_lines

    names = rows.features["ner_tags"].feature.names
    write_lines(path, wikiann_lines((row["tokens"], [names[tag] for tag in row["ner_tags"]]) for row in rows))


def _write_nli(rows, path: Path, lang: str) -> None:
    from .xnli import NLI_LABELS  # hub labels: 0 entailment, 1 neutral, 2 contradiction; -1 has no gold label

    write_lines(path, (f"{one_line(row['premise'])}\t{one_line(row['hypothesis'])}\t{NLI_LABELS[int(row['label'])]}"
                        for row in rows if 0 <= int(row["label"]) < len(NLI_LABELS)))


def squad_json(rows, titles: dict[str, str] | None = None) -> dict:
    """Hub QA rows (id, [title,] context, question, answers{text, answer_start}) -> SQuAD v1.1 JSON, with
    articles and paragraphs in order of first appearance. `titles` (question id -> title) names the articles
    of rows without a title (google/xquad has none; its ids are SQuAD v1.1 dev ids)."""
    articles: dict[str, dict] = {}
    for row in rows:
        title = row.get("title") or (titles or {}).get(str(row["id"]))
        if not title:
            raise RealDataUnavailable(f"hub QA row {row['id']!r} has no title and its id is not in SQuAD v1.1 dev: "
                                      "the XQuAD article split needs the article of every question")
        paragraphs = articles.setdefault(title, {"title": title, "paragraphs": []})["paragraphs"]
        if not paragraphs or paragraphs[-1]["context"] != row["context"]:
            paragraphs.append({"context": row["context"], "qas": []})
        answers = [{"text": text, "answer_start": int(start)}
                   for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"])]
        paragraphs[-1]["qas"].append({"id": str(row["id"]), "question": row["question"], "answers": answers})
    return {"version": "1.1", "data": list(articles.values())}


def _write_squad(rows, path: Path, lang: str, titles: dict[str, str] | None = None) -> None:
    write_lines(path, [json.dumps(squad_json(rows, titles), ensure_ascii=False)])


def _write_xquad(rows, path: Path, lang: str) -> None:
    from .squad import read_squad_json

    dev = read_squad_json(hub_file("squad", "en", "dev"))  # the article of every XQuAD question
    _write_squad(rows, path, lang, {example.id: example.article for example in dev})


XNLI_LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
HUB_SETS = {
    "wikiann": HubSet("unimelb-nlp/wikiann", {"train": "train", "dev": "validation", "test": "test"},
                      lambda lang: lang, None, _write_wikiann),
    "xnli": HubSet("facebook/xnli", {"dev": "validation", "test": "test"}, lambda lang: lang, XNLI_LANGS, _write_nli),
    # one hub split holds all 48 articles; the task splits them into pool and test (file name: the test split's)
    "xquad": HubSet("google/xquad", {"test": "validation"}, lambda lang: f"xquad.{lang}", XQUAD_LANGS, _write_xquad),
    "squad": HubSet("rajpurkar/squad", {"train": "train", "dev": "validation"}, lambda lang: None, ("en",),
                    _write_squad),
    "multinli": HubSet("nyu-mll/multi_nli", {"train": "train"}, lambda lang: None, ("en",), _write_nli),
}


def hub_cache_dir() -> Path:
    return Path(os.environ.get("Z2H_CACHE_DIR", Path.home() / ".cache" / "zero2hero")) / "hub"


def _not_on_hub(kind: str, lang: str, split: str) -> str | None:
    """Why the hub has no (kind, lang, split), or None when it has it; without asking the hub."""
    hub = HUB_SETS.get(kind)
    if hub is None:
        return f"{kind} data has no hub copy (data_dir=hub serves wikiann, xnli, xquad); give a local data_dir"
    if split not in hub.splits:
        return f"{hub.hub_id} has no {split!r} split; valid: {', '.join(hub.splits)}"
    if hub.langs is not None and lang not in hub.langs:
        return f"{hub.hub_id} has no {lang!r} data; its languages: {', '.join(hub.langs)}"
    return None


def on_hub(kind: str, lang: str, split: str) -> bool:
    """Whether the hub has (kind, lang, split), without asking the hub."""
    return _not_on_hub(kind, lang, split) is None


def load_hub_rows(hub_id: str, split: str, config: str | None = None):
    """The hub dataset `hub_id` (optionally a `config`) split `split`, or RealDataUnavailable saying why."""
    label = f"{hub_id}" + (f" (config {config})" if config else "") + f" split {split!r}"
    try:
        import datasets

        return datasets.load_dataset(hub_id, config, split=split)
    except Exception as exc:  # datasets raises ConnectionError, FileNotFoundError, ValueError, ... depending on why
        reason = (str(exc).splitlines() or [type(exc).__name__])[0] or type(exc).__name__
        offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise RealDataUnavailable(f"cannot load {label} from the Hugging Face hub{offline}: {reason}") from None


def hub_file(kind: str, lang: str, split: str) -> Path:
    """The local copy of a hub split in the local format, downloaded and written on first use."""
    reason = _not_on_hub(kind, lang, split)
    if reason:
        raise Z2HError(reason)
    hub = HUB_SETS[kind]
    path = hub_cache_dir() / PATTERNS[kind].format(lang=lang, split=split)
    if not path.exists():
        rows = load_hub_rows(hub.hub_id, hub.splits[split], hub.config(lang))
        hub.write(rows, path, lang)
        log.info("wrote %s (%s) to %s", hub.hub_id, hub.splits[split], path)
    return path


def local_or_hub_file(data_dir, kind: str, lang: str, split: str) -> Path:
    """The file under data_dir where it is there, else the hub copy (RealDataUnavailable when neither works)."""
    if has_file(data_dir, kind, lang, split):
        return find_file(data_dir, kind, lang, split)
    return hub_file(kind, lang, split)


def english_train_split(data_dir, kind: str, read: Callable[[Path], list], what: str):
    """English training data that no task reads per language (MultiNLI, SQuAD train) as the `train` Split:
    from data_dir where it is there, else from the hub; RealDataUnavailable naming both places when neither."""
    try:
        path = local_or_hub_file(data_dir, kind, "en", "train")
    except RealDataUnavailable as exc:
        expected = PATTERNS[kind].format(lang="en", split="train")
        raise RealDataUnavailable(f"{what}: no {expected} under {data_dir} and {exc}") from None
    return Split("train", "en", read(path), str(path), file_sha256(path), corpus=kind)


def local_or_hub(task, data_dir, lang: str, split: str):
    """`split` of `lang` from data_dir where it is on disk, else from the hub; where neither works, the error of
    the missing local file (it names the path expected), which is what a user without internet can act on."""
    if str(data_dir) == HUB or has_file(data_dir, task.data_kind, lang, split):
        return load_split(task, data_dir, lang, split)
    try:
        task.file_for(HUB, lang, split)  # fetches the hub copy (a task may keep several splits in one file)
    except Z2HError as exc:
        log.info("%s", exc)
        return load_split(task, data_dir, lang, split)
    return load_split(task, HUB, lang, split)
