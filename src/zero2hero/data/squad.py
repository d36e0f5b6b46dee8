"""SQuAD-format extractive QA data (SQuAD v1.1, XQuAD): JSON files -> QaExamples (hub copies: data/hub.py).

Malformed JSON and broken structure (missing fields, wrong types) are DataErrors with file and line.
Answers whose text is not found in the context at `answer_start`, and questions on an empty context, are
kept (their gold text still scores predictions) but reported with question id and line: the task leaves
them out of training. The XQuAD split is by article: the first POOL_ARTICLES articles in file order are the
few-shot pool (and dev), the others the test set — the same articles in every language.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import DataError, Z2HError
from .examples import Answer, QaExample
from .hub import RealDataUnavailable
from .text import read_text, write_lines

log = logging.getLogger(__name__)

POOL_ARTICLES = 10  # docs/method.md §2: XQuAD's first 10 of 48 articles are the target-language pool
SHOWN_IDS = 10  # question ids listed in one warning before "and N more"


def _line_of(text: str, value: str) -> int | None:
    """1-based line where a string value appears in the raw JSON (plain or \\u-escaped), if it can be found."""
    for encoded in (json.dumps(value, ensure_ascii=False), json.dumps(value)):
        position = text.find(encoded)
        if position >= 0:
            return text.count("\n", 0, position) + 1
    return None


def _expect(condition: bool, path: Path, line, where: str, message: str) -> None:
    """Raise a DataError unless `condition`; `line` may be a function, so the raw text is searched only on error."""
    if not condition:
        raise DataError(path, line() if callable(line) else line, f"{where}: {message}")


def _answers(qa: dict, path: Path, line, where: str) -> list[Answer]:
    answers = qa.get("answers")
    _expect(isinstance(answers, list) and len(answers) > 0, path, line, where,
            "'answers' must be a non-empty list (SQuAD v1.1; unanswerable v2 questions are not supported)")
    result = []
    for number, answer in enumerate(answers):
        _expect(isinstance(answer, dict) and isinstance(answer.get("text"), str), path, line, where,
                f"answers[{number}] needs a string 'text'")
        start = answer.get("answer_start")
        _expect(isinstance(start, int) and not isinstance(start, bool), path, line, where,
                f"answers[{number}]['answer_start'] must be an integer, got {start!r}")
        result.append(Answer(answer["text"], start))
    return result


def squad_examples(document, path: str | Path, text: str = "") -> list[QaExample]:
    """Validate a parsed SQuAD-format document and flatten it into one QaExample per question."""
    path = Path(path)
    _expect(isinstance(document, dict) and isinstance(document.get("data"), list), path, None, "top level",
            "expected an object with a 'data' list of articles")
    examples: list[QaExample] = []
    paragraph_number = 0
    titles: set[str] = set()
    for article_index, article in enumerate(document["data"]):
        where = f"data[{article_index}]"
        _expect(isinstance(article, dict) and isinstance(article.get("paragraphs"), list), path, None, where,
                "expected an article object with a 'paragraphs' list")
        title = str(article.get("title") or f"article-{article_index + 1}")
        if title in titles:  # titles name sampling units, so they must be unique within a file
            title = f"{title}#{article_index + 1}"
        titles.add(title)
        for paragraph_index, paragraph in enumerate(article["paragraphs"]):
            here = f"{where}.paragraphs[{paragraph_index}]"
            _expect(isinstance(paragraph, dict) and isinstance(paragraph.get("context"), str)
                    and isinstance(paragraph.get("qas"), list), path, None, here,
                    "expected a paragraph object with a string 'context' and a 'qas' list")
            for qa_index, qa in enumerate(paragraph["qas"]):
                spot = f"{here}.qas[{qa_index}]"
                _expect(isinstance(qa, dict) and isinstance(qa.get("id"), (str, int)), path, None, spot,
                        "expected a question object with an 'id'")
                qid = str(qa["id"])
                line = (lambda qid=qid: _line_of(text, qid) if text else None)  # noqa: E731  (searched on error only)
                _expect(isinstance(qa.get("question"), str) and qa["question"].strip() != "", path, line, spot,
                        f"question {qid!r} needs a non-empty string 'question'")
                examples.append(QaExample(qid, qa["question"], paragraph["context"], _answers(qa, path, line, spot),
                                          title, article_index, paragraph_number))
            paragraph_number += 1
    if not examples:
        raise DataError(path, None, "no questions; expected SQuAD-format JSON ({'data': [{'paragraphs': [{'qas': ...}]}]})")
    report_problems(examples, str(path), text)
    return examples


def read_squad_json(path: str | Path) -> list[QaExample]:
    """Read a SQuAD-format JSON file (SQuAD v1.1, `xquad.<lang>.json`) into QaExamples, in file order."""
    path = Path(path)
    text = read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})") from None
    return squad_examples(document, path, text)


def problem_questions(examples: list[QaExample]) -> tuple[list[str], list[str]]:
    """(ids of questions with an answer that does not match the context at answer_start, ids on empty contexts)."""
    mismatched = [ex.id for ex in examples if ex.context.strip() and not all(a.matches(ex.context) for a in ex.answers)]
    empty = [ex.id for ex in examples if not ex.context.strip()]
    return mismatched, empty


def _listing(ids: list[str], text: str) -> str:
    shown = [f"{qid} (line {_line_of(text, qid)})" if text and _line_of(text, qid) else qid for qid in ids[:SHOWN_IDS]]
    more = f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
    return ", ".join(shown) + more


def report_problems(examples: list[QaExample], source: str, text: str = "") -> tuple[list[str], list[str]]:
    """Warn about answers that do not match their context and about empty contexts (by question id)."""
    mismatched, empty = problem_questions(examples)
    if mismatched:
        log.warning("%s: %d question(s) have an answer whose text is not in the context at answer_start; they are "
                    "scored on their gold text but not used for training: %s", source, len(mismatched),
                    _listing(mismatched, text))
    if empty:
        log.warning("%s: %d question(s) have an empty context; they are scored (as unanswerable by the model) but not "
                    "used for training: %s", source, len(empty), _listing(empty, text))
    return mismatched, empty


def select_articles(examples: list[QaExample], part: str) -> list[QaExample]:
    """XQuAD's article split: `pool` = the first POOL_ARTICLES articles (file order), `test` = all later ones."""
    if part == "pool":
        return [ex for ex in examples if ex.article_index < POOL_ARTICLES]
    if part == "test":
        return [ex for ex in examples if ex.article_index >= POOL_ARTICLES]
    raise Z2HError(f"unknown XQuAD part {part!r}; expected pool or test")


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


def write_squad_rows(rows, path: Path, lang: str, titles: dict[str, str] | None = None) -> None:
    """Hub QA rows -> one SQuAD v1.1 JSON file at `path`."""
    write_lines(path, [json.dumps(squad_json(rows, titles), ensure_ascii=False)])
