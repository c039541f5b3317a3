# bench/lib.sh - shared by bench/tls.sh and bench/compress.sh: start servers pinned to one core,
# wait until they answer, run wrk or h2load pinned to the other core, take medians.
# Source it; it sets SERVER_CPU, CLIENT_CPU, DURATION, REPEATS, CONN, WARMUP unless already set.

SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
DURATION=${DURATION:-10} REPEATS=${REPEATS:-3} CONN=${CONN:-64} WARMUP=${WARMUP:-1}
declare -a BENCH_PIDS=()

bench_require() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
    done
}

# bench_start LOG CMD... : runs CMD in its own session, pinned to SERVER_CPU.
bench_start() {
    local log=$1; shift
    setsid taskset -c "$SERVER_CPU" "$@" >"$log" 2>&1 &
    BENCH_PIDS+=("$!")
}

# bench_stop_all: stops every server started (their whole process groups).
bench_stop_all() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}

# bench_wait URL : waits up to 20 s for URL to answer.
bench_wait() {
    local _
    for _ in $(seq 200); do
        curl -ksf -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "bench: $1 never answered" >&2
    return 1
}

# bench_wrk URL [HEADER...] : req/s of one wrk run (after a warm-up), pinned to CLIENT_CPU.
bench_wrk() {
    local url=$1; shift
    local headers=() h
    for h in "$@"; do headers+=(-H "$h"); done
    if ((WARMUP > 0)); then
        taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONN" -d"$WARMUP" "${headers[@]}" "$url" >/dev/null
    fi
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONN" -d"$DURATION" "${headers[@]}" "$url" |
        awk '/^Requests\/sec/ {print $2} /Non-2xx/ {print "non-2xx answers" > "/dev/stderr"}'
}

# bench_h2load URL : req/s of one h2load run over HTTP/2 (CONN connections, 10 streams each).
bench_h2load() {
    taskset -c "$CLIENT_CPU" h2load -t1 -c"$CONN" -m10 -D"$DURATION" "$1" 2>/dev/null |
        awk '/^finished in/ {gsub(",", "", $4); print $4}'
}

# bench_nginx_preamble SCRATCH : the start of an nginx config as shared/bench/anchors/nginx.sh
# writes it (foreground, one worker, access log off); the caller writes the rest of `http {`.
bench_nginx_preamble() {
    cat <<CONF
daemon off;
worker_processes 1;
pid $1/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    client_body_temp_path $1/tmp;
CONF
}

# median V... : the median of the values.
median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# bench_table NAME... : prints, for each "scenario server" key in RESULTS (an associative array
# of space-separated values), the median and its ratio to the first server of the scenario.
bench_table() {
    local scenario server base m
    printf '%-22s %-10s %12s %8s   %s\n' scenario server "median/s" ratio runs
    for scenario in "${SCENARIOS[@]}"; do
        base=""
        for server in "$@"; do
            [[ -n ${RESULTS["$scenario $server"]:-} ]] || continue
            # shellcheck disable=SC2086
            m=$(median ${RESULTS["$scenario $server"]})
            [[ -n $base ]] || base=$m
            printf '%-22s %-10s %12.0f %8.2f   %s\n' "$scenario" "$server" "$m" \
                "$(awk -v a="$m" -v b="$base" 'BEGIN {print (b > 0) ? a / b : 0}')" \
                "${RESULTS["$scenario $server"]}"
        done
    done
}
