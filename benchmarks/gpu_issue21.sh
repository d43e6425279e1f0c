#!/bin/bash
# Issue 21's GPU measurements: the stacked CUDA-graph step against each trial alone (float64), a CUDA process's
# start, batch 16 at K = 1024, the CNN stack's variants, batch 1024 at K = 256 in three precisions,
# seed-variance's wall time, where its start goes (import times and a cProfile), profiles of the step at K = 10
# and K = 1024, the K figure, the CNN stack's kernels and the largest K that fits.
#
#   WHEELS=.dev/whl NNSTUDY_DATA=.dev/data OUT=/tmp/out [STRICT=1] bash benchmarks/gpu_issue21.sh [PART ...]
#
# All parts take longer than one device call may (600 s). Session 12 ran `A H E F C D X N B P K M` in 450 s on an
# H200 (no bytecode: E and F measured a cold host) and `W U H E C D F M` in 222 s. Run W first whenever E or F
# is to be read: without it every process compiles its imports from source.
# WHEELS: a folder of wheels the GPU host lacks (pydantic, pydantic-core, annotated-types, typing-inspection,
# SQLAlchemy, greenlet, torchinfo), installed into /tmp/site first; NNSTUDY_DATA: a cache holding
# fashion-mnist/*.gz; OUT: where the log and the profiles go. PARTs (default all): A H B C D P E F G K N M X (T: where seed-variance's time goes outside its steps, run_timeline.py; Y: the CNN step compiled by
# torch.compile, conv_forms.py --compile, a few minutes of compiling; W: bytecode for
# what a run imports, warm_bytecode.py; U: the stacked CNN's convolution forms' tests (unfolded, grouped channels-last) and train.precision's (a bf16 stack's convolutions in bfloat16 under CUDA's autocast too), CUDA ones included; N: the CNN stack's kernels at K = 64; M: the largest K, steps only; X: the CNN step written out in each form, conv_forms.py; V: stacks of ViT, ResNet-18 and a BN CNN in each precision, and their layers' dtypes, precision_stack.py; Q: part C's bf16 run alone; Z: the CNN stack's kernels at K = 64 in bf16, 200 steps an epoch).
cd "$(dirname "$0")/.."
if [ -n "$WHEELS" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$WHEELS"/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
export PYTHONPATH=$PWD/src:$PWD/benchmarks:$PYTHONPATH PYTHONUNBUFFERED=1 MPLBACKEND=Agg
# Session 8's host compiled 1,108 modules from source in a cProfiled run: its bytecode cache was not used. A
# writable cache of our own, filled by part A's processes, gives the later parts the start of an ordinary
# install (pip compiles bytecode when it installs); cuda_start.py (part H) says where torch's comes from.
export PYTHONPYCACHEPREFIX=${PYTHONPYCACHEPREFIX:-/tmp/nnstudy-pycache}
# Session 12 found why: the host sets PYTHONDONTWRITEBYTECODE, so no process wrote that cache either, and every
# process compiled torch, pandas, scipy and matplotlib from source (`compile` 9 s of a cProfiled run). Unset,
# the first process to import a module writes its bytecode, as pip does for an ordinary install.
echo "PYTHONDONTWRITEBYTECODE was '${PYTHONDONTWRITEBYTECODE-}' (unset now)"
unset PYTHONDONTWRITEBYTECODE
O=${OUT:-/tmp}
mkdir -p "$O"
run() { local t=$1; shift; echo "=== $* ($(date +%T))"; timeout "$t" "$@" 2>&1 | grep -v USDT; local rc=${PIPESTATUS[0]}
        echo "=== rc $rc $(date +%T)"; return "$rc"; }
# STRICT=1: a failing test part (A, U) ends the run there, instead of timing code that fails (session 19 lost a
# call's measurements so)
tests() { run "$@" || { [ -z "$STRICT" ] || { echo "=== STRICT: tests failed, the parts after them skipped"; exit 1; }; }; }
{
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
for part in ${@:-A H B C D P E F G K N M X}; do
case $part in
A) tests 90 python3 -m pytest -q -p no:cacheprovider tests/test_stack.py tests/test_conv_matmul.py -k cuda ;;
W) run 60 python3 benchmarks/warm_bytecode.py ;;
U) tests 120 python3 -m pytest -q -p no:cacheprovider tests/test_conv_matmul.py tests/test_conv_grouped.py tests/test_precision.py ;;
H) run 30 python3 benchmarks/cuda_start.py ;;
B) run 80 python3 benchmarks/sweep_throughput.py --device cuda --batch 16 --k 1024 --epochs 3 --skip-alone ;;
C) run 70 python3 benchmarks/cnn_stack.py --device cuda --batch 16 --k 64 --steps 300
   run 50 python3 benchmarks/cnn_stack.py --device cuda --batch 16 --k 64 --steps 300 --precision tf32 \
       --variants grouped unfold grouped-cl --typical-fraction 0.2
   run 50 python3 benchmarks/cnn_stack.py --device cuda --batch 16 --k 64 --steps 300 --precision bf16 \
       --variants grouped unfold grouped-cl --typical-fraction 0.2 ;;
D) run 160 python3 benchmarks/sweep_throughput.py --device cuda --model cnn --batch 16 --k 64 --epochs 2 --skip-alone \
       --precision float32 tf32 bf16 --typical-repeat 3 ;;
P) run 70 python3 benchmarks/sweep_throughput.py --device cuda --batch 1024 --k 256 --epochs 3 --precision float32 tf32 bf16 --skip-alone ;;
E) run 90 python3 benchmarks/study_wall.py studies/seed-variance.toml --device cuda --repeat 3 ;;
T) run 60 python3 benchmarks/run_timeline.py studies/seed-variance.toml --device cuda ;;
F) S=$(mktemp -d); echo "=== F: import times and cProfile of seed-variance, 2 epochs"
   # main(argv) returns as a library call does: `-m nnstudy` (argv None) leaves by os._exit, before cProfile writes
   timeout 45 python3 -X importtime -c "import cProfile, sys; out = sys.argv.pop(1)
cProfile.run('from nnstudy.cli import main; main(sys.argv[1:])', out)" "$O/seed_variance.prof" \
       run studies/seed-variance.toml --set train.epochs=2 --device ${DEVICE:-cuda} --store "$S" --quiet \
       2> "$O/importtime.txt"
   python3 -c "import pstats, sys; pstats.Stats(sys.argv[1]).sort_stats('cumulative').print_stats(45)" \
       "$O/seed_variance.prof" | cut -c1-170 | tail -50
   awk -F'|' '$3 ~ /^ [^ ]/ && $2+0 > 50000 {print $2, $3}' "$O/importtime.txt" ;;
G) run 30 python3 benchmarks/stack_profile.py --device cuda --profile 10 --train-size 320
   run 100 python3 benchmarks/stack_profile.py --device cuda --profile 1024 --train-size 320 ;;
K) run 90 python3 benchmarks/stack_profile.py --device cuda --k 1 4 16 64 256 1024 2048 4096 --steps 120 --csv "$O/k_figure.csv" ;;
X) run 90 python3 benchmarks/conv_forms.py --device cuda --k 64 --batch 16 --steps 200 ;;
Y) run 300 python3 benchmarks/conv_forms.py --device cuda --k 64 --batch 16 --steps 200 --precisions tf32 bf16 \
       --forms grouped-cl unfold --compile none tail step ;;
N) run 60 python3 benchmarks/stack_profile.py --device cuda --model cnn --profile 64 --train-size 320 --precision tf32 ;;
M) run 120 python3 benchmarks/stack_profile.py --device cuda --k 8192 16384 28672 --steps 40 --no-evaluation ;;
V) run 200 python3 benchmarks/precision_stack.py --device cuda --k 16 ;;
Q) run 50 python3 benchmarks/cnn_stack.py --device cuda --batch 16 --k 64 --steps 300 --precision bf16 \
       --variants grouped unfold grouped-cl --typical-fraction 0.2 ;;
Z) run 90 python3 benchmarks/stack_profile.py --device cuda --model cnn --profile 64 --train-size 3200 --precision bf16 ;;
esac
done
} 2>&1 | tee "$O/log.txt"
