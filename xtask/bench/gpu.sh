#!/usr/bin/env bash
# GPU side of `cargo xtask bench` on a machine without a Rust toolchain.
#
# DIR (default .gpu/) holds what was prepared on the build machine:
#   bench.json, caffenet.json    the networks (`throughput --config-json PRESET`)
#   xtask, throughput            optional: the xtask binary and the `throughput`
#                                bench built with `--features cuda`
# With both binaries it runs the full comparison (burn's CUDA backend against
# PyTorch); without them it times PyTorch alone, in the same RESULT format.
# PyTorch is the machine's python3.
#
# Building the cuda bench needs the network at build time: burn 0.22's CUDA
# backend (cubecl-cuda 0.11) compiles kernels through LLVM by default, and
# its build downloads a prebuilt LLVM (tracel-llvm-bundler):
#   CUDARC_CUDA_VERSION=13000 cargo bench --profile dev -p transferability-model \
#       --bench throughput --features cuda --no-run
#
# Usage: xtask/bench/gpu.sh [DIR] [OUT]
set -u
dir=${1:-.gpu}
out=${2:-${OUT:-target/bench-gpu}}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
if [ -x "$dir/xtask" ] && [ -x "$dir/throughput" ]; then
    TRANSFERABILITY_TORCH_PYTHON=python3 "$dir/xtask" bench --exe "$dir/throughput" --backends cuda:0 \
        --torch-device cuda --presets caffenet,bench --rounds 2 --steps 20 --warmup 5 --out "$out"
else
    script=$(dirname "$0")/torch_alexnet.py
    for preset in caffenet bench; do
        for tf32 in "" --tf32; do
            python3 "$script" "$dir/$preset.json" --device cuda --steps 20 --warmup 5 $tf32 | tee -a "$out/pytorch-cuda.txt"
            python3 "$script" "$dir/$preset.json" --device cuda --steps 20 --warmup 5 $tf32 --batch 256 | tee -a "$out/pytorch-cuda.txt"
        done
    done
fi
