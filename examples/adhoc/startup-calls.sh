#!/bin/sh
# What does my program call at start-up?  Every CUDA and NVML call of every process,
# in order, then the summary per function (calls, errors, time) like strace -c.
#   startup-calls.sh COMMAND [ARG...]
set -u
vgpu=${VGPU_RUN:-vgpu-run}
trace=${TRACE:-startup.jsonl}
"$vgpu" --trace "$trace" -- "$@"
status=$?
# The first 40 calls, by start time: function, result, microseconds.
if command -v jq >/dev/null; then
	jq -s -r 'sort_by(.t) | .[:40][] | "\(.pid) \(.fn) \(.result) \(.ns / 1000)us"' "$trace"
fi
"$vgpu" --trace-report "$trace"
exit "$status"
