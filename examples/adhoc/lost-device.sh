#!/bin/sh
# Does my program recover from a lost GPU?  After LOST_AFTER (default 10s) every CUDA
# call fails with CUDA_ERROR_DEVICE_UNAVAILABLE and every NVML call with
# NVML_ERROR_GPU_IS_LOST, as when a GPU falls off the bus.  A program that recovers
# reports the error, stops using the GPU (or exits non-zero for its supervisor to
# restart it) instead of hanging or spinning on the failing call.
#   lost-device.sh COMMAND [ARG...]
set -u
vgpu=${VGPU_RUN:-vgpu-run}
trace=${TRACE:-lost.jsonl}
"$vgpu" --fault "device-lost-after=${LOST_AFTER:-10s}" --trace "$trace" -- "$@"
status=$?
echo "exit status $status; calls after the loss, by function:" >&2
grep '"fault":true' "$trace" | sed 's/.*"fn":"\([^"]*\)".*/\1/' | sort | uniq -c | sort -rn | head >&2
exit "$status"
