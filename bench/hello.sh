#!/usr/bin/env bash
# bench/hello.sh - the cost of serveur's handler API: a hello-world handler served through
# serveur (examples/bench_hello.rs) against hyper's own hello world (examples/bench_hyper_hello.rs),
# side by side in one run. Both servers are pinned to one core, wrk to the other; the runs are
# interleaved in pairs whose order alternates (serveur then hyper, hyper then serveur, ...), so
# drift on a shared machine hits both, and favours neither by coming always first.
#
# Usage: bench/hello.sh [--duration SEC] [--repeats N] [--conn N] [--warmup SEC]
#                       [--server-cpu CPU] [--client-cpu CPU] [--no-build]
# Run from the repository root. Requires: cargo, wrk, taskset, setsid, awk.
#
# Reports, per server, the median req/s of the repeats, the server's CPU use during the runs,
# requests per server CPU-second, and the server's user and kernel CPU time per request (µs).
# When the server is below 100% CPU, wrk was the bottleneck and req/s says little: compare
# requests per CPU-second then. The kernel's share (the sockets) is the same work for both
# servers; the API's cost is in the user time. The ratio lines are serveur/hyper: of the
# medians, and the median of each run's ratio to the run beside it.
set -euo pipefail

DURATION=10 REPEATS=5 CONN=64 WARMUP=2 SERVER_CPU=0 CLIENT_CPU=1 BUILD=1
while (($#)); do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --repeats) REPEATS=$2; shift 2 ;;
        --conn) CONN=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --server-cpu) SERVER_CPU=$2; shift 2 ;;
        --client-cpu) CLIENT_CPU=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "hello.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

for tool in wrk taskset setsid awk; do
    command -v "$tool" >/dev/null || { echo "hello.sh: $tool is required" >&2; exit 1; }
done
if ((BUILD)); then
    cargo build --release --example bench_hello --example bench_hyper_hello
fi

NAMES=(serveur hyper)
declare -A BIN=([serveur]=target/release/examples/bench_hello [hyper]=target/release/examples/bench_hyper_hello)
declare -A PID PORT
WORK=$(mktemp -d)
cleanup() {
    for name in "${NAMES[@]}"; do
        [[ -n ${PID[$name]:-} ]] && kill "${PID[$name]}" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Starts a server on port 0 and reads the port from its startup line
# ("Serving HTTP on 127.0.0.1 port N (...) ...").
start() {
    local name=$1 out=$WORK/$1.out
    setsid taskset -c "$SERVER_CPU" "${BIN[$name]}" 0 >"$out" 2>"$WORK/$name.err" &
    PID[$name]=$!
    for _ in $(seq 100); do
        PORT[$name]=$(awk '/ port /{for (i = 1; i < NF; i++) if ($i == "port") print $(i + 1); exit}' "$out")
        [[ -n ${PORT[$name]} ]] && return 0
        sleep 0.1
    done
    echo "hello.sh: $name did not start: $(cat "$WORK/$name.err")" >&2
    exit 1
}

# The server's user and system CPU time so far, in clock ticks.
cpu_ticks() {
    awk '{print $14, $15}' "/proc/$1/stat"
}

for name in "${NAMES[@]}"; do start "$name"; done
TICKS=$(getconf CLK_TCK)

printf '%-8s %4s %12s %8s %14s %10s %10s\n' server run req/s srv_cpu% req/cpu-s user_us/req sys_us/req
for run in $(seq "$REPEATS"); do
    order=("${NAMES[@]}")
    ((run % 2)) || order=("${NAMES[1]}" "${NAMES[0]}")
    for name in "${order[@]}"; do
        url=http://127.0.0.1:${PORT[$name]}/
        if ((WARMUP > 0)); then
            taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONN" -d"${WARMUP}s" "$url" >/dev/null
        fi
        read -r user_before sys_before < <(cpu_ticks "${PID[$name]}")
        taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONN" -d"${DURATION}s" "$url" >"$WORK/wrk.out"
        read -r user_after sys_after < <(cpu_ticks "${PID[$name]}")
        rps=$(awk '/^Requests\/sec:/{print $2}' "$WORK/wrk.out")
        if grep -q 'Non-2xx' "$WORK/wrk.out"; then
            echo "hello.sh: $name answered non-2xx responses:" >&2; cat "$WORK/wrk.out" >&2; exit 1
        fi
        user=$((user_after - user_before)) sys=$((sys_after - sys_before))
        cpu=$(awk -v t=$((user + sys)) -v hz="$TICKS" -v d="$DURATION" 'BEGIN{printf "%.1f", 100 * t / hz / d}')
        per_cpu=$(awk -v r="$rps" -v c="$cpu" 'BEGIN{printf "%.0f", (c > 0 ? r * 100 / c : 0)}')
        # CPU µs per request: ticks / hz * 1e6 / (req/s * duration).
        read -r user_us sys_us < <(awk -v u="$user" -v s="$sys" -v hz="$TICKS" -v r="$rps" -v d="$DURATION" \
            'BEGIN{n = r * d; printf "%.2f %.2f\n", u / hz * 1e6 / n, s / hz * 1e6 / n}')
        printf '%-8s %4s %12s %8s %14s %10s %10s\n' "$name" "$run" "$rps" "$cpu" "$per_cpu" "$user_us" "$sys_us"
        echo "$name $rps $per_cpu $user_us $sys_us" >>"$WORK/results"
    done
done

median() { # median of column $2 for server $1
    awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$WORK/results" | sort -g |
        awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
echo
printf '%-8s %14s %14s %12s %12s\n' server 'median req/s' 'median req/cpu-s' 'user us/req' 'sys us/req'
for name in "${NAMES[@]}"; do
    printf '%-8s %14s %14s %12s %12s\n' "$name" "$(median "$name" 2)" "$(median "$name" 3)" \
        "$(median "$name" 4)" "$(median "$name" 5)"
done
awk -v a="$(median serveur 2)" -v b="$(median hyper 2)" -v c="$(median serveur 3)" -v d="$(median hyper 3)" \
    'BEGIN{printf "serveur/hyper: req/s %.3f, req/cpu-s %.3f (API cost %.1f%% of req/s)\n", a / b, c / d, 100 * (1 - a / b)}'
# Each serveur run against the hyper run of the same pair: drift on a shared machine moves both
# runs of a pair alike, so the median of these ratios is steadier than the ratio of medians.
awk '$1 == "serveur" {s[++i] = $2} $1 == "hyper" {h[++j] = $2} END {for (k = 1; k <= i; k++) print s[k] / h[k]}' \
    "$WORK/results" | sort -g |
    awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
        printf "median of paired runs serveur/hyper: req/s %.3f (API cost %.1f%%), from %d pairs\n", m, 100 * (1 - m), NR}'
