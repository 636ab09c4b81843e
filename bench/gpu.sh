#!/usr/bin/env bash
# The GPU bench (bench/gpu.yaml, issue 13) in two halves.
#   bash bench/gpu.sh bundle   here, after `dotnet build Platform.sln -c Release`: ../shared/gpu/bundle.sh's .gpu/
#                              (the .NET runtime, host and plugins without the CPU libtorch) plus bench-runner, likewise.
#   bash bench/gpu.sh run [LABEL...]  on the CUDA machine (the `device` tool, carry [".gpu"]): every row of bench/gpu.yaml in
#                              turn, each under its own time limit inside one deadline (GPU_BENCH_SECONDS, default 540:
#                              the device budget is minutes), then the table from the rows that finished (--from-runs).
#                              Results, the runs' reports and the full log go to $OUT (or gpu-out/).
#   bash bench/gpu.sh rows BENCH_FILE JOBS [FIRST...] [-- THEN...]  on the same machine: any bench file's rows, FIRST one
#                              at a time, then THEN as JOBS processes side by side (see below).
set -uo pipefail
[ -f Platform.sln ] || { echo "run from the project root" >&2; exit 2; }
# The bundle unpacked once per machine, the environment pointed at it and at the machine's PyTorch libtorch; the device
# described in $out/device.txt.
setup() {
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
}

case "${1:-}" in
bundle)
  set -e
  bash ../shared/gpu/bundle.sh
  stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
  cp -r artifacts/bench-runner "$stage/bench-runner"
  find "$stage/bench-runner/runtimes" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
  find "$stage/bench-runner/runtimes/linux-x64/native" -type f ! -name 'libLibTorchSharp.so' ! -name 'libSkiaSharp.so' ! -name 'libHarfBuzzSharp.so' -delete
  tar -C "$stage" -cJf .gpu/bench-runner.tar.xz bench-runner
  # The ONNX plugin carries onnxruntime for every OS (about 240 MB); the device is linux-x64, and the carry limit is 64 MiB.
  mkdir "$stage/app" && tar -C "$stage/app" -xJf .gpu/app.tar.xz
  find "$stage/app" -type d -path '*/runtimes/*' -prune ! -name linux-x64 -exec rm -rf {} +
  tar -C "$stage/app" -cJf .gpu/app.tar.xz .
  du -sh .gpu/*
  ;;
run)
  deadline=$(( $(date +%s) + ${GPU_BENCH_SECONDS:-540} ))
  setup
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
rows)
  # rows BENCH_FILE JOBS [FIRST...] [-- THEN...]: any bench file's rows on this machine before GPU_BENCH_SECONDS run out.
  # The rows matching FIRST (label substrings) run one at a time, in order; then every row matching THEN runs in a
  # process of its own, JOBS at a time (a CPU farm for one-thread rows). Then the table from the runs (--from-runs).
  [ $# -ge 3 ] || { echo "usage: bash bench/gpu.sh rows BENCH_FILE JOBS [FIRST...] [-- THEN...]" >&2; exit 2; }
  deadline=$(( $(date +%s) + ${GPU_BENCH_SECONDS:-540} ))
  file=$2 jobs=$3; shift 3
  setup
  first=(); then=(); into=first
  for a in "$@"; do
    if [ "$a" = -- ]; then into=then; elif [ $into = first ]; then first+=("$a"); else then+=("$a"); fi
  done
  runner="dotnet $app/app/bench-runner/bench-runner.dll $file"
  for label in "${first[@]}"; do
    left=$(( deadline - $(date +%s) - 30 ))
    if [ $left -lt 10 ]; then echo "=== $label: skipped, the deadline is near" | tee -a "$out/log.txt"; continue; fi
    timeout $left $runner --only "$label" --results /tmp/rows-first >> "$out/log.txt" 2>&1
    echo "=== $label: exit $?" | tee -a "$out/log.txt"
  done
  if [ ${#then[@]} -gt 0 ]; then
    # Every row of the file, then those matching a THEN substring, each row in its own process.
    $runner --slurm --dry-run > /dev/null 2>&1
    name=$(sed -n 's/^  Name: *//p' "$file" | head -1)
    python3 - "runs/bench/$name/slurm-sweep.json" "${then[@]}" > /tmp/rows-labels <<'PY'
import json, sys
tasks = json.load(open(sys.argv[1]))["tasks"]
for t in tasks:
    if any(s in t["label"] for s in sys.argv[2:]): print(t["label"])
PY
    left=$(( deadline - $(date +%s) - 30 ))
    tr '\n' '\0' < /tmp/rows-labels | xargs -0 -P "$jobs" -I{} sh -c \
      'timeout '"$left"' '"$runner"' --only "$1" --results "/tmp/rows-$(echo "$1" | tr " " -)" > "/tmp/rows-$(echo "$1" | tr " " -).log" 2>&1; echo "=== $1: exit $?"' _ {} \
      | tee -a "$out/log.txt"
    cat /tmp/rows-*.log >> "$out/log.txt" 2>/dev/null
  fi
  $runner --from-runs --results "$out" >> "$out/log.txt" 2>&1
  find runs/bench -mindepth 1 -maxdepth 3 \( -name report.json -o -name report.md -o -name config.resolved.json \) -newer "$out/device.txt" -print0 | tar -czf "$out/runs.tgz" --null -T -
  grep -E "^(=== |error|Wrote)|Exception|failed" "$out/log.txt" | tail -40
  cat "$out"/*.md 2>/dev/null | head -60
  ;;
*) echo "usage: bash bench/gpu.sh bundle|run|rows" >&2; exit 2 ;;
esac
