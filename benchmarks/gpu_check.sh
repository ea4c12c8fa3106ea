#!/usr/bin/env bash
# The GPU checks of the data path and the speed targets, for a session lent a device machine (one H200: a few
# minutes). From the repository root, there:
#
#     bash benchmarks/gpu_check.sh
#
# 1. the CUDA cases of the device-crop tests (crops cut on the GPU agree with cv2's, labels bit-identical);
# 2. the speed targets on CUDA at batch 64 (ResNet-50, bf16, channels_last: inference_overhead, train_vs_backbone,
#    shared_scaling, gpu_throughput, gpu_latency_ms);
# 3. loader_vs_synthetic on CUDA (ResNet-50, batch 64, min(8, cores) loader workers, a 704-image 512² SynthHMR
#    split rendered into $HMR_BENCH_CACHE first) with the crops cut on the device, then on the CPU.
#
# Writes the log and the speed records (speed_<run>.jsonl, one file per targets run) to $OUT when set (the device
# tool copies $OUT back), else to .benchmarks/gpu_check. The device machine has no internet: the project goes in
# without its dependencies (torch, numpy, OpenCV, numba, pandas are there); smplx, which is not, travels as a wheel
# in .whl/ (benchmarks/README.md says how to fetch it).
set -euo pipefail

cd "$(dirname "$0")/.."
out="${OUT:-.benchmarks/gpu_check}"
mkdir -p "$out"
log="$out/gpu_check.log"
export PYTHONUNBUFFERED=1 HMR_BENCH_CACHE="${HMR_BENCH_CACHE:-/tmp/hmr-bench-cache}"

run() {  # a command, echoed, its output to the terminal and the log; its failure ends the script (pipefail)
    echo "== $*" | tee -a "$log"
    "$@" 2>&1 | tee -a "$log"
}

if compgen -G ".whl/*.whl" > /dev/null; then
    run python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
fi
run python3 -m pip install -q --no-deps --no-build-isolation --target /tmp/site .
export PYTHONPATH=/tmp/site
run python3 -c "import smplx, torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
run nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv

if python3 -c "import pytest" 2> /dev/null; then
    run python3 -m pytest -q -p no:randomly -p no:cacheprovider tests/data/test_device_crops.py -k cuda
else
    echo "== pytest is not installed here: the CUDA device-crop tests are skipped (carry its wheel in .whl/)" | tee -a "$log"
fi
run python3 -m hmr_bench.bench.targets --device cuda --batch 64 --bench-dir "$out"
for crop_on in device cpu; do
    run python3 -m hmr_bench.bench.targets --device cuda --batch 64 --only loader_vs_synthetic --crop-on "$crop_on" \
        --bench-dir "$out"
done
echo "== done: $(ls "$out")" | tee -a "$log"
