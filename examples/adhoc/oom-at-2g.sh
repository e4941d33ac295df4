#!/bin/sh
# Does my program survive an out-of-memory at 2 GiB?  Allocations fail with
# CUDA_ERROR_OUT_OF_MEMORY once the program (all its processes, all GPUs) would hold
# more than 2 GiB, while the GPU still reports all of its memory: the surprise a shared
# GPU gives.  The trace shows which call failed first and what the program did next.
#   oom-at-2g.sh COMMAND [ARG...]      (OOM_AT=512M to choose another size)
set -u
vgpu=${VGPU_RUN:-vgpu-run}
trace=${TRACE:-oom.jsonl}
"$vgpu" --fault "oom-after=${OOM_AT:-2G}" --trace "$trace" -- "$@"
status=$?
echo "exit status $status; the allocations that failed:" >&2
grep '"result":"CUDA_ERROR_OUT_OF_MEMORY"' "$trace" | head -n 5 >&2
echo "what came after the first failure:" >&2
grep -A 5 -m 1 '"result":"CUDA_ERROR_OUT_OF_MEMORY"' "$trace" | tail -n +2 >&2
exit "$status"
