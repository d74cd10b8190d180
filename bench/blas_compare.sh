#!/usr/bin/env bash
# OpenBLAS vs BLIS (Debian packages) on this CPU, 1 and 2 threads: why matmul's fallback is
# OpenBLAS (docs/performance.md, GEMM). Installs libblis-dev when missing (root).
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/bench
dpkg -s libblis-dev >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && apt-get install -y libblis-dev >&2 || { echo "needs libblis-dev" >&2; exit 1; }; }
cc -O2 -o build/bench/sgemm_openblas bench/blas_compare.c -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas
cc -O2 -o build/bench/sgemm_blis bench/blas_compare.c -I/usr/include/x86_64-linux-gnu/blis-openmp \
   -L/usr/lib/x86_64-linux-gnu/blis-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/blis-openmp -lblis -fopenmp
for t in 1 2; do
  echo "== $t thread(s)"
  OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX} OPENBLAS_NUM_THREADS=$t build/bench/sgemm_openblas openblas
  BLIS_NUM_THREADS=$t OMP_NUM_THREADS=$t build/bench/sgemm_blis blis
done
