#!/usr/bin/env bash
# The GPU bench (bench/gpu.yaml, issue 13) in two halves.
#   bash bench/gpu.sh bundle   here, after `dotnet build Platform.sln -c Release`: ../shared/gpu/bundle.sh's .gpu/
#                              (the .NET runtime, host and plugins without the CPU libtorch) plus bench-runner, likewise.
#   bash bench/gpu.sh run [LABEL...]  on the CUDA machine (the `device` tool, carry [".gpu"]): every row of bench/gpu.yaml in
#                              turn, each under its own time limit inside one deadline (GPU_BENCH_SECONDS, default 540:
#                              the device budget is minutes), then the table from the rows that finished (--from-runs).
#                              Results, the runs' reports and the full log go to $OUT (or gpu-out/).
set -uo pipefail
[ -f Platform.sln ] || { echo "run from the project root" >&2; exit 2; }
case "${1:-}" in
bundle)
  set -e
  bash ../shared/gpu/bundle.sh
  stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
  cp -r artifacts/bench-runner "$stage/bench-runner"
  find "$stage/bench-runner/runtimes" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
  find "$stage/bench-runner/runtimes/linux-x64/native" -type f ! -name 'libLibTorchSharp.so' ! -name 'libSkiaSharp.so' ! -name 'libHarfBuzzSharp.so' -delete
  tar -C "$stage" -cJf .gpu/bench-runner.tar.xz bench-runner
  du -sh .gpu/*
  ;;
run)
  deadline=$(( $(date +%s) + ${GPU_BENCH_SECONDS:-540} ))
  out=${OUT:-gpu-out}; mkdir -p "$out"
  torchlib=$(python3 -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))") || { echo "no PyTorch here" >&2; exit 2; }
  app=/tmp/gpu-app
  if [ ! -d $app/app/bench-runner ]; then
    mkdir -p $app/dotnet
    tar -C $app/dotnet -xJf .gpu/dotnet.tar.xz && tar -C $app -xJf .gpu/app.tar.xz && tar -C $app/app -xJf .gpu/bench-runner.tar.xz || exit 2
  fi
  export DOTNET_ROOT=$app/dotnet PATH=$app/dotnet:$PATH LD_LIBRARY_PATH=$torchlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  { python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpu', torch.cuda.get_device_name(0))"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    lscpu | grep -E '^(Model name|CPU\(s\))'; } | tee "$out/device.txt"
  bench() { dotnet $app/app/bench-runner/bench-runner.dll bench/gpu.yaml "$@"; }
  row() {   # row LABEL SECONDS: one row of the bench, cut at SECONDS or at the deadline
    local left=$(( deadline - $(date +%s) - 30 )) limit=$2
    if [ $left -lt 30 ]; then echo "=== $1: skipped, the deadline is near" | tee -a "$out/log.txt"; return; fi
    [ $limit -gt $left ] && limit=$left
    local start=$(date +%s)
    timeout $limit dotnet $app/app/bench-runner/bench-runner.dll bench/gpu.yaml --only "$1" --results /tmp/gpu-partial >> "$out/log.txt" 2>&1
    echo "=== $1: exit $? after $(( $(date +%s) - start )) s (limit $limit s)" | tee -a "$out/log.txt"
  }
  shift
  # Every row with its own limit in seconds, most important first; `run LABEL...` runs only those.
  # Quick rows first, so that a short deadline still measures collate and forward; the kitti-latency rows time the model
  # that gpu-pipeline-cuda trains, so they follow it.
  for entry in small-latency-cuda:45 small-latency-cuda-device-voxels:45 small-latency-cpu:45 default-pipeline-cuda:90 every-step-cuda:100 \
               gpu-pipeline-cuda:220 kitti-latency-cuda:45 kitti-latency-cpu:60 pointnet-t3dnet-cuda:60 pointnet-t3dnet-cpu:60 default-pipeline-cpu:240; do
    label=${entry%%:*}
    if [ $# -eq 0 ] || [[ " $* " == *" $label "* ]]; then row "$label" "${entry##*:}"; fi
  done
  bench --from-runs --results "$out" >> "$out/log.txt" 2>&1
  # The runs' reports and configurations (small) come back, so the table can be rebuilt here with --from-runs.
  find runs/bench/gpu -maxdepth 2 \( -name report.json -o -name report.md -o -name config.resolved.json \) -print0 | tar -czf "$out/runs.tgz" --null -T -
  grep -E "^(=== |error|Wrote)|Exception|failed" "$out/log.txt" | tail -40
  cat "$out/gpu.md" 2>/dev/null
  ;;
*) echo "usage: bash bench/gpu.sh bundle|run" >&2; exit 2 ;;
esac
