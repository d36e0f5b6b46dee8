#!/usr/bin/env bash
# The GPU check (issue 16, item 6), one short script for a lent GPU machine; never a test. Prepare .gpu/ here first
# (benchmarks/gpu_prepare.sh), then run from the repository root there with .gpu carried, e.g. through the
# device tool:  run(command="benchmarks/gpu_check.sh", carry=[".gpu"], timeout_s=540)
# It installs the carried wheels beside the machine's own torch, and runs the training benchmark on CUDA under bf16:
# the project's loop against the HF Trainer (random and length-grouped batches), real tokens/s, the ratio, the
# final losses, and the model TFLOP/s against one large bf16 matrix product on the same GPU. Output: $OUT (or .).
set -eo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/z2h-site .gpu/whl/*.whl
export PYTHONPATH=/tmp/z2h-site:$PWD/src PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c 'import torch, transformers, mlflow; print("torch", torch.__version__, "transformers", transformers.__version__,
"mlflow", mlflow.__version__, "cuda", torch.cuda.is_available())' | tee -a "$OUT/gpu.txt"
for sentences in 640 2560; do
    python3 benchmarks/bench_training.py --model .gpu/minilm --random_init --data_dir .gpu/data \
        --sentences $sentences --repeats 3 2>&1 | tee "$OUT/bench_training_cuda_minilm_$sentences.txt"
done
# base-sized (12 x 768, the shape of mBERT and XLM-R base) with MiniLM's vocabulary
python3 benchmarks/bench_training.py --model .gpu/base-shape --random_init --data_dir .gpu/data \
    --sentences 2560 --repeats 2 2>&1 | tee "$OUT/bench_training_cuda_base_2560.txt"
