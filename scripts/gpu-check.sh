#!/usr/bin/env bash
# gpu-check.sh: the one prepared check of the CUDA backend for a machine with a GPU.
#
# Written for a lent H200 (16 cores, nvcc present, no network); runs anywhere with nvcc and an
# NVIDIA GPU. From the repository root:
#
#   bash scripts/gpu-check.sh            # everything below, summary table last
#
# Steps (each bounded by `timeout`, each recorded PASS / FAIL / SKIP in the table):
#   1. configure + build with -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 (build time noted)
#   2. test-backend-ops -b cuda: every harness case on CUDA against the float64 reference
#      (the q8_0/q4_0 cases must all run on CUDA, none skipped); then flash_attn again with
#      each kernel path forced (GGML_CUDA_FA_PATH=scalar / mma) and mul_mat with each
#      non-default path forced (GGML_CUDA_MM_PATH=tiled / cublas: the q8_0/q4_0 tile loader
#      and the dequantize-to-f16 + cuBLAS route, which small harness shapes never pick)
#   3. test-ggml "[cuda]": registry, buffers, graph and flash-attention paths vs the CPU
#   4. ggml-llama on stories260K, 64 greedy tokens, --backend cuda vs --backend cpu ids
#   5. ggml-cuda-bench (attention, f16/q8_0/q4_0 GEMV and GEMM), and ggml-bench attn / matmul
#      --backend cuda when that tool exists
#   6. PyTorch scaled_dot_product_attention on the same shapes, when `import torch` works,
#      plus a device-to-device copy to measure the memory bandwidth
#
# Environment: BUILD (build dir, default build-gpu), JOBS (default nproc), OUT (where logs go;
# default $BUILD/gpu-check), GGML_SHARED (folder holding models/stories260K.bin; default
# ./shared or ../shared), BUDGET_S (default 560: every step's time limit is cut to what is left
# of this budget, so the summary is always printed before an outer 10-minute limit).
set -u -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd)
BUILD=${BUILD:-build-gpu}
JOBS=${JOBS:-$(nproc)}
OUT=${OUT:-$BUILD/gpu-check}
mkdir -p "$OUT"
LOG="$OUT/gpu-check.log"
: >"$LOG"

START=$(date +%s)
BUDGET_S=${BUDGET_S:-560}
ROWS=()
FAILED=0
record() {  # record NAME STATUS DETAIL
    ROWS+=("$(printf '%-34s %-5s %s' "$1" "$2" "$3")")
    [ "$2" = "FAIL" ] && FAILED=1
    printf '== %s: %s %s\n' "$1" "$2" "$3" | tee -a "$LOG"
}
# run_logged NAME LIMIT_S CMD...: runs CMD with a time limit, output to $OUT/NAME.txt and the
# log; returns CMD's status (124 on timeout).
run_logged() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET_S - ($(date +%s) - START)))
    if [ "$left" -lt 10 ]; then
        echo "out of time budget: $name not run" >"$OUT/$name.txt"
        return 124
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "+ $*" >>"$LOG"
    timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
    local rc=$?
    cat "$OUT/$name.txt" >>"$LOG"
    return $rc
}
now() { date +%s; }

# ---- 0. the machine ---------------------------------------------------------------------------
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem \
        --format=csv 2>&1 || echo "nvidia-smi failed"
    nvcc --version 2>&1 | tail -n 2
} | tee -a "$LOG"

SHARED=${GGML_SHARED:-}
if [ -z "$SHARED" ]; then
    for d in "$ROOT/shared" "$ROOT/../shared"; do
        if [ -f "$d/models/stories260K.bin" ]; then SHARED=$d; break; fi
    done
fi

# ---- 1. build -----------------------------------------------------------------------------------
t0=$(now)
CONFIG=(-DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
configured=0
if run_logged configure 180 cmake -S . -B "$BUILD" "${CONFIG[@]}"; then
    configured=1
elif run_logged configure_no_tests 180 cmake -S . -B "$BUILD" "${CONFIG[@]}" \
    -DGGML_BUILD_TESTS=OFF; then
    # e.g. no Catch2 on the machine: the benchmark and the model runner still build.
    record configure FAIL "with tests failed (see $OUT/configure.txt); built without tests"
    configured=1
fi
if [ $configured = 1 ]; then
    TARGETS=()
    HELP=$(cmake --build "$BUILD" --target help 2>/dev/null)
    for t in test-ggml test-backend-ops ggml-llama ggml-cuda-bench ggml-bench; do
        if grep -q "\.\.\. $t\$" <<<"$HELP"; then TARGETS+=("$t"); fi
    done
    if run_logged build 420 cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}"; then
        record build PASS "$(($(now) - t0)) s with -j $JOBS (sm_90 only)"
    else
        record build FAIL "see $OUT/build.txt"
    fi
else
    record build FAIL "configure failed, see $OUT/configure.txt"
fi
BIN="$BUILD/bin"

# ---- 2. op harness on CUDA ----------------------------------------------------------------------
summary_line() { grep -E -i 'passed|failed|skipped' "$1" | tail -n 1; }
if [ -x "$BIN/test-backend-ops" ]; then
    if run_logged backend_ops 240 "$BIN/test-backend-ops" -b cuda; then
        record "test-backend-ops -b cuda" PASS "$(summary_line "$OUT/backend_ops.txt")"
    else
        record "test-backend-ops -b cuda" FAIL "$(summary_line "$OUT/backend_ops.txt")"
    fi
    # Case lines read "cuda   NAME  nmse=... tol=... OK|FAIL|SKIP"; a SKIP of a quant case
    # means the backend's supports() turned it down.
    nq=$(grep -E -c '^cuda +[^ ]*q[48]_0' "$OUT/backend_ops.txt")
    nq_ok=$(grep -E '^cuda +[^ ]*q[48]_0' "$OUT/backend_ops.txt" | grep -E -c ' OK *$')
    if [ "$nq" -gt 0 ] && [ "$nq" = "$nq_ok" ]; then
        record "q8_0/q4_0 cases on cuda" PASS "$nq_ok of $nq OK"
    else
        record "q8_0/q4_0 cases on cuda" FAIL "$nq_ok of $nq OK (grep q._0 $OUT/backend_ops.txt)"
    fi
    for path in scalar mma; do
        if GGML_CUDA_FA_PATH=$path run_logged "fa_$path" 120 \
            "$BIN/test-backend-ops" -b cuda -o flash_attn; then
            record "flash_attn, FA_PATH=$path" PASS "$(summary_line "$OUT/fa_$path.txt")"
        else
            record "flash_attn, FA_PATH=$path" FAIL "$(summary_line "$OUT/fa_$path.txt")"
        fi
    done
    for path in tiled cublas; do
        if GGML_CUDA_MM_PATH=$path run_logged "mm_$path" 90 \
            "$BIN/test-backend-ops" -b cuda -o mul_mat; then
            record "mul_mat, MM_PATH=$path" PASS "$(summary_line "$OUT/mm_$path.txt")"
        else
            record "mul_mat, MM_PATH=$path" FAIL "$(summary_line "$OUT/mm_$path.txt")"
        fi
    done
else
    record "test-backend-ops -b cuda" SKIP "not built"
fi

# ---- 3. unit tests ------------------------------------------------------------------------------
if [ -x "$BIN/test-ggml" ]; then
    if run_logged test_cuda 120 "$BIN/test-ggml" "[cuda]" --success; then
        record 'test-ggml "[cuda]"' PASS "$(grep -E 'test cases' "$OUT/test_cuda.txt" | tail -n 1)"
    else
        record 'test-ggml "[cuda]"' FAIL "$(grep -E 'test cases' "$OUT/test_cuda.txt" | tail -n 1)"
    fi
else
    record 'test-ggml "[cuda]"' SKIP "not built"
fi

# ---- 4. stories260K greedy ids: CUDA vs CPU -----------------------------------------------------
MODEL="$SHARED/models/stories260K.bin"
if [ -x "$BIN/ggml-llama" ] && [ -f "$MODEL" ]; then
    ok=1
    run_logged llama_cpu 60 "$BIN/ggml-llama" -m "$MODEL" -n 64 --backend cpu \
        --ids-out "$OUT/ids_cpu.txt" || ok=0
    run_logged llama_cuda 60 "$BIN/ggml-llama" -m "$MODEL" -n 64 --backend cuda \
        --ids-out "$OUT/ids_cuda.txt" || ok=0
    if [ $ok = 1 ] && [ -s "$OUT/ids_cuda.txt" ] && cmp -s "$OUT/ids_cpu.txt" "$OUT/ids_cuda.txt"
    then
        record "stories260K 64 ids cuda == cpu" PASS "$(wc -l <"$OUT/ids_cuda.txt") ids"
    else
        first=$(diff <(cat "$OUT/ids_cpu.txt" 2>/dev/null) <(cat "$OUT/ids_cuda.txt" 2>/dev/null) |
            head -n 3 | tr '\n' ' ')
        record "stories260K 64 ids cuda == cpu" FAIL "run ok=$ok; first diff: $first"
    fi
else
    record "stories260K 64 ids cuda == cpu" SKIP "ggml-llama or $MODEL missing"
fi

# ---- 5. our attention benchmark -----------------------------------------------------------------
if [ -x "$BIN/ggml-cuda-bench" ]; then
    if run_logged cuda_bench 120 "$BIN/ggml-cuda-bench"; then
        while read -r line; do
            case "$line" in
                prefill_bf16_4096*) record "ggml prefill_bf16_4096" INFO \
                    "$(echo "$line" | awk '{print $2" ms, "$4" TFLOP/s"}')" ;;
                decode_gqa_bf16_32k*) record "ggml decode_gqa_bf16_32k" INFO \
                    "$(echo "$line" | awk '{print $2" ms, "$6" GB/s"}')" ;;
                gemv_*_14336*) record "ggml $(echo "$line" | awk '{print $1}')" INFO \
                    "$(echo "$line" | awk '{print $2" ms, "$6" GB/s"}')" ;;
                gemm_*) record "ggml $(echo "$line" | awk '{print $1}')" INFO \
                    "$(echo "$line" | awk '{print $2" ms, "$4" TFLOP/s"}')" ;;
            esac
        done <"$OUT/cuda_bench.txt"
    else
        record "ggml-cuda-bench" FAIL "see $OUT/cuda_bench.txt"
    fi
fi
if [ -x "$BIN/ggml-bench" ]; then
    if run_logged ggml_bench 120 "$BIN/ggml-bench" attn --backend cuda; then
        record "ggml-bench attn --backend cuda" INFO "see $OUT/ggml_bench.txt"
    else
        record "ggml-bench attn --backend cuda" FAIL "see $OUT/ggml_bench.txt"
    fi
    # Its "% limit" column reads "n/a" for a device backend (the probes measure the host CPU);
    # the ms and GB/s columns are what to read (each includes one synchronisation).
    if run_logged ggml_bench_matmul 90 "$BIN/ggml-bench" matmul --backend cuda; then
        record "ggml-bench matmul --backend cuda" INFO "see $OUT/ggml_bench_matmul.txt"
    else
        record "ggml-bench matmul --backend cuda" FAIL "see $OUT/ggml_bench_matmul.txt"
    fi
else
    record "ggml-bench attn/matmul --backend cuda" SKIP "ggml-bench not built in this tree"
fi

# ---- 6. the peer: PyTorch SDPA on the same shapes ---------------------------------------------
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null
then
    cat >"$OUT/sdpa.py" <<'PY'
import torch, torch.nn.functional as F
torch.backends.cuda.matmul.allow_tf32 = False
dev = "cuda"

def timeit(fn, iters):
    fn(); torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(iters):
        fn()
    e.record(); torch.cuda.synchronize()
    return s.elapsed_time(e) / 1e3 / iters

def sdpa(q, k, v, causal):
    try:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    except TypeError:  # torch < 2.5: repeat the KV heads (extra traffic, noted in the output)
        r = q.shape[1] // k.shape[1]
        return F.scaled_dot_product_attention(
            q, k.repeat_interleave(r, 1), v.repeat_interleave(r, 1), is_causal=causal)

# prefill_bf16_4096: B 4, Hq 32, Hkv 8, D 128, n 4096, causal
B, Hq, Hkv, D, n = 4, 32, 8, 128, 4096
q = torch.randn(B, Hq, n, D, device=dev, dtype=torch.bfloat16)
k = torch.randn(B, Hkv, n, D, device=dev, dtype=torch.bfloat16)
v = torch.randn(B, Hkv, n, D, device=dev, dtype=torch.bfloat16)
t = timeit(lambda: sdpa(q, k, v, True), 10)
print(f"sdpa prefill_bf16_4096 {t*1e3:.3f} ms {4*B*Hq*D*n*n/2/t/1e12:.1f} TFLOP/s")
del q, k, v

# decode_gqa_bf16_32k: B 1, Hq 32, Hkv 8, D 128, n_q 1, n_kv 32768
B, n_kv = 1, 32768
q = torch.randn(B, Hq, 1, D, device=dev, dtype=torch.bfloat16)
k = torch.randn(B, Hkv, n_kv, D, device=dev, dtype=torch.bfloat16)
v = torch.randn(B, Hkv, n_kv, D, device=dev, dtype=torch.bfloat16)
t = timeit(lambda: sdpa(q, k, v, False), 200)
print(f"sdpa decode_gqa_bf16_32k {t*1e3:.4f} ms {2*B*Hkv*n_kv*D*2/t/1e9:.1f} GB/s")
del q, k, v

# device memory bandwidth: a 4 GiB device-to-device copy (read + write)
x = torch.empty(1 << 31, device=dev, dtype=torch.int16)
y = torch.empty_like(x)
t = timeit(lambda: y.copy_(x), 20)
print(f"copy bandwidth {2*x.numel()*2/t/1e9:.1f} GB/s")
PY
    if run_logged sdpa 120 python3 "$OUT/sdpa.py"; then
        while read -r line; do
            case "$line" in
                "sdpa prefill"*) record "torch sdpa prefill_bf16_4096" INFO \
                    "$(echo "$line" | awk '{print $3" ms, "$5" TFLOP/s"}')" ;;
                "sdpa decode"*) record "torch sdpa decode_gqa_bf16_32k" INFO \
                    "$(echo "$line" | awk '{print $3" ms, "$5" GB/s"}')" ;;
                "copy bandwidth"*) record "device copy bandwidth" INFO \
                    "$(echo "$line" | awk '{print $3" GB/s"}')" ;;
            esac
        done <"$OUT/sdpa.txt"
    else
        record "torch sdpa" FAIL "see $OUT/sdpa.txt"
    fi
else
    record "torch sdpa" SKIP "python3 cannot import torch with CUDA"
fi

# ---- summary ------------------------------------------------------------------------------------
echo
echo "gpu-check summary ($(date -u +%Y-%m-%d), log: $LOG)"
printf '%-34s %-5s %s\n' "check" "state" "detail"
for r in "${ROWS[@]}"; do echo "$r"; done
exit $FAILED
