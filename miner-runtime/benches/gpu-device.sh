#!/usr/bin/env bash
# The GPU bench (benches/gpu.rs) on a machine with an NVIDIA GPU but no Rust toolchain and no network.
#
# Build on a Linux x86-64 machine with Debian's ocl-icd-opencl-dev installed, then copy the bench binary, the
# OpenCL ICD loader and (optionally) clinfo into one folder beside this script:
#
#   CARGO_TARGET_DIR=target-gpu cargo bench -p sealstack-miner --features opencl --bench gpu --no-run
#   mkdir -p .gpu && cp target-gpu/release/deps/gpu-<hash> .gpu/gpu-bench && strip .gpu/gpu-bench
#   cp -L /usr/lib/x86_64-linux-gnu/libOpenCL.so.1 .gpu/          # Debian's ocl-icd-libopencl1
#   cp miner-runtime/benches/gpu-device.sh .gpu/run.sh
#   apt-get download clinfo && dpkg -x clinfo_*.deb x && cp x/usr/bin/clinfo .gpu/   # optional
#
# and run `bash .gpu/run.sh` on the GPU machine. It generates the 2KiB parameters there (the 1.1 GB PoRep file
# need not travel), points the OpenCL loader at NVIDIA's ICD, seals SECTORS sectors on the CPU, then on the GPU
# (with nvidia-smi sampling), and writes into $OUT three files: its output (log), the table (gpu-table.md) and
# the details (details.tar.gz: each run's JSON result and full log, the nvidia-smi samples).
#
# Environment: OUT (default ./gpu-out), SECTORS (3), BUDGET (seconds for the whole script, 540), the most
# seconds of each step GEN_LIMIT (260), CPU_LIMIT (120), GPU_LIMIT (300) (sized for 16 cores; raise them on a
# small machine), WORK (/tmp/gpu-bench; parameters already there are kept), GPU_BENCH_DIR (the folder with the
# binary, default this script's folder), RUST_LOG.
#
# Measured on an H200 with 16 cores (README): parameters 108 s, the CPU run 42-50 s, the GPU run 17 s, plus
# about 172 s the first time the GPU runs on a machine, when the OpenCL kernels are compiled (neptune's 45 s,
# bellperson's 127 s) into ~/.rust-gpu-tools; later processes load them from there.
set -u -o pipefail

HERE=${GPU_BENCH_DIR:-$(cd "$(dirname "$0")" && pwd)}
OUT=${OUT:-$PWD/gpu-out}
SECTORS=${SECTORS:-3}
BUDGET=${BUDGET:-540}
GEN_LIMIT=${GEN_LIMIT:-260} CPU_LIMIT=${CPU_LIMIT:-120} GPU_LIMIT=${GPU_LIMIT:-300}
WORK=${WORK:-/tmp/gpu-bench}
BIN=$HERE/gpu-bench
rm -rf "$WORK/out"
mkdir -p "$OUT" "$WORK/out"
exec > >(tee -a "$OUT/log") 2>&1
tee_pid=$!

DETAILS=$WORK/out
say() { echo "[$(date -u +%H:%M:%S) +${SECONDS}s] $*"; }
# Seconds a step may take: at most $1, and never past the budget (keeping $2 seconds for what follows).
allow() {
    local left=$((BUDGET - SECONDS - $2))
    ((left < $1)) && echo $((left > 10 ? left : 10)) || echo "$1"
}

# One configuration in its own process (the proofs library reads its GPU settings once). $1 label, $2 seconds.
seal() {
    local label=$1 limit=$2 started=$SECONDS
    say "sealing on $label (at most ${limit}s)"
    timeout "$limit" "$BIN" seal "$label" "$SECTORS" "$DETAILS/$label.json" >"$DETAILS/$label.log" 2>&1
    local rc=$?
    grep -E "\[gpu bench\]|error|panick" "$DETAILS/$label.log"
    say "$label: exit $rc after $((SECONDS - started))s"
    return $rc
}
# The details into $OUT, then the end of the output.
finish() {
    tar -czf "$OUT/details.tar.gz" -C "$DETAILS" . 2>/dev/null
    say "done"
    exec 1>&- 2>&-
    wait "$tee_pid"
    exit "$1"
}
# nvidia-smi every 250 ms while $1 runs, into smi-$1.csv; its peaks afterwards.
smi_start() { nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv,noheader,nounits -lms 250 >"$DETAILS/smi-$1.csv" 2>&1 & smi_pid=$!; }
smi_stop() {
    kill "$smi_pid" 2>/dev/null
    wait "$smi_pid" 2>/dev/null
    awk -F', ' 'NF >= 4 {n++; if ($2 > u) u = $2; if ($3 > m) m = $3; if ($4 > p) p = $4; if ($2 > 0) busy++}
        END {printf "nvidia-smi during %s: %d samples, %d with utilization > 0, peak utilization %s %%, peak memory %s MiB, peak power %s W\n", label, n, busy, u, m, p}' \
        label="$1" "$DETAILS/smi-$1.csv"
}

say "GPU bench: $SECTORS sectors of 2KiB per configuration, budget ${BUDGET}s, binary $BIN"
nvidia-smi -L 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
echo "cores: $(nproc), memory: $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)"

# OpenCL: Debian's ICD loader travels with the binary; NVIDIA's ICD comes with the driver. The loader finds it
# through an .icd file naming the library; point one at its full path (OCL_ICD_VENDORS) wherever it is.
export LD_LIBRARY_PATH=$HERE${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ls /usr/lib/x86_64-linux-gnu/libnvidia-opencl* /usr/local/nvidia/lib64 2>&1 | head -20
ls -l /etc/OpenCL/vendors 2>&1
nvcl=""
for dir in /usr/lib/x86_64-linux-gnu /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib64 /usr/lib; do
    [[ -e $dir/libnvidia-opencl.so.1 ]] && nvcl=$dir/libnvidia-opencl.so.1 && break
done
if [[ -z $nvcl ]]; then
    say "libnvidia-opencl.so.1 not in the usual folders, searching /"
    nvcl=$(timeout 60 find / -xdev -name 'libnvidia-opencl.so*' 2>/dev/null | sort | head -1)
fi
if [[ -n $nvcl ]]; then
    mkdir -p "$WORK/icd"
    echo "$nvcl" >"$WORK/icd/nvidia.icd"
    export OCL_ICD_VENDORS=$WORK/icd
    export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:${nvcl%/*}
    say "NVIDIA OpenCL ICD: $nvcl (OCL_ICD_VENDORS=$OCL_ICD_VENDORS)"
    if [[ ! -e /etc/OpenCL/vendors/nvidia.icd ]] && mkdir -p /etc/OpenCL/vendors 2>/dev/null; then
        echo "$nvcl" >/etc/OpenCL/vendors/nvidia.icd 2>/dev/null || true
    fi
else
    say "no libnvidia-opencl.so found: the GPU runs will fall back to the CPU or fail"
fi
if [[ -x $HERE/clinfo ]]; then
    timeout 60 "$HERE/clinfo" -l 2>&1
    timeout 60 "$HERE/clinfo" 2>&1 | grep -E "^\s+(Device Name|Device Version|Driver Version|Max compute units|Global memory size)" | head -10
fi

export RUST_LOG=${RUST_LOG:-info,rust_gpu_tools=debug} NO_COLOR=1
export FIL_PROOFS_PARAMETER_CACHE=$WORK/params FIL_PROOFS_PARENT_CACHE=$WORK/parents
unset FIL_PROOFS_VERIFY_PRODUCTION_PARAMS

say "generating the 2KiB parameters into $FIL_PROOFS_PARAMETER_CACHE"
gen_started=$SECONDS
timeout "$(allow "$GEN_LIMIT" 150)" "$BIN" generate "$FIL_PROOFS_PARAMETER_CACHE" >"$DETAILS/generate.log" 2>&1
gen_rc=$?
tail -4 "$DETAILS/generate.log"
if ((gen_rc != 0)); then
    say "parameter generation FAILED (exit $gen_rc) after $((SECONDS - gen_started))s: nothing to measure"
    finish 1
fi
say "parameters generated in $((SECONDS - gen_started))s ($(du -sh "$FIL_PROOFS_PARAMETER_CACHE" | cut -f1))"

export -n BELLMAN_NO_GPU FIL_PROOFS_USE_GPU_COLUMN_BUILDER FIL_PROOFS_USE_GPU_TREE_BUILDER
smi_start cpu
BELLMAN_NO_GPU=1 seal cpu "$(allow "$CPU_LIMIT" 150)"
smi_stop cpu
results=("$DETAILS/cpu.json")

smi_start gpu
FIL_PROOFS_USE_GPU_COLUMN_BUILDER=1 FIL_PROOFS_USE_GPU_TREE_BUILDER=1 seal gpu "$(allow "$GPU_LIMIT" 30)"
gpu_rc=$?
smi_stop gpu
[[ -s $DETAILS/gpu.json ]] && results+=("$DETAILS/gpu.json")
if ((gpu_rc != 0)); then
    say "the GPU run with GPU tree building failed: Commit2 alone on the GPU"
    smi_start gpu-c2
    seal gpu-c2 "$(allow "$GPU_LIMIT" 10)"
    smi_stop gpu-c2
    [[ -s $DETAILS/gpu-c2.json ]] && results+=("$DETAILS/gpu-c2.json")
fi

say "what the GPU runs logged about devices:"
grep -hE "loaded devices|working device|Device [0-9]+:|instantiated|Falling back|falling back|Cannot instantiate|GPU is available|tree c using|tree r last using|GpuDisabled|No working GPUs" \
    "$DETAILS"/gpu*.log 2>/dev/null | sed -E 's/^[0-9TZ:.-]+ +//; s/^(.{400}).*/\1 .../' | sort | uniq -c | head -30

if [[ -s $DETAILS/cpu.json ]]; then
    "$BIN" table "${results[@]}" >"$DETAILS/gpu-table.md"
    if grep -qE "no GPU found|Cannot instantiate|failed! Falling back" "$DETAILS"/gpu*.log; then
        echo "- WARNING: a GPU run fell back to the CPU for some work (see the device lines above)" >>"$DETAILS/gpu-table.md"
    fi
    tee "$OUT/gpu-table.md" <"$DETAILS/gpu-table.md"
else
    say "no CPU result: no table"
fi
finish 0
