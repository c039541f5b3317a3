#!/usr/bin/env bash
# bench/floods.sh - serveur beside nginx and lighttpd under connection floods (issue 19), in one
# run, one table. Each load runs against a freshly started server (pinned to SERVER_CPU; the
# load tool to CLIENT_CPU), with a probe (`GET /probe.txt` on a new connection, checked, 100 of
# them spread over the load, lost after 5 s):
#   idle       IDLE (10000) connections that send nothing: RSS growth per connection the server
#              accepted (its descriptors; the rest wait in the listen queue or were refused), probe
#   slowloris  SLOWLORIS (1000) heads trickled a header line every 10 s for SLOWLORIS_SECONDS
#              (60): probe, and how many the attack still held at the end
#   readers    READERS (100) downloads of a 100 MiB file read at 1 byte/s for READERS_SECONDS
#              (30): the server's peak RSS growth, probe. With READERS_WARM=1 (the default) one
#              100 kB range of the file is fetched first: serveur's connections use sendfile only
#              once it has sent a file worth it (README, Performance); 0 measures the cold case
#   connects   CONNECT_RATE (20000) connects a second, each closed at once, for
#              CONNECT_SECONDS (10): the rate reached, failed connects, probe
#
#   bench/floods.sh ['SERVEUR COMMAND with {port} and {dir}']
#
# The serveur command defaults to the release binary with its default flags:
#   'target/release/serveur -q -b 127.0.0.1 -d {dir} {port}'
# SERVERS (default "serveur nginx lighttpd") picks the servers. nginx and lighttpd are run by
# shared/bench/anchors (nginx: worker_connections 4096; lighttpd: max-connections 1024), as
# every other benchmark runs them. The load tool (bench/floods/, a project of its own, never
# part of serveur's build) is built here. Needs: nginx, lighttpd, curl, taskset, cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ANCHORS=${ANCHORS:-../shared/bench/anchors}
default_cmd='target/release/serveur -q -b 127.0.0.1 -d {dir} {port}'
SERVEUR_CMD=${1:-$default_cmd}
SERVERS=${SERVERS:-serveur nginx lighttpd}
IDLE=${IDLE:-10000} SLOWLORIS=${SLOWLORIS:-1000} READERS=${READERS:-100}
SLOWLORIS_SECONDS=${SLOWLORIS_SECONDS:-60} READERS_SECONDS=${READERS_SECONDS:-30}
CONNECT_RATE=${CONNECT_RATE:-20000} CONNECT_SECONDS=${CONNECT_SECONDS:-10}
READERS_WARM=${READERS_WARM:-1}
PORT=${PORT:-18090}
bench_require curl taskset cargo nginx lighttpd

# 10,000 connections are 10,000 descriptors on each side: the soft limit goes to the hard one
# (the servers inherit it).
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < IDLE + 200)); then
    echo "floods: the descriptor limit ($(ulimit -n)) is below IDLE + 200" >&2
    exit 1
fi

[[ $SERVEUR_CMD == target/release/serveur* ]] && cargo build --release -q
cargo build --release -q --manifest-path bench/floods/Cargo.toml
tool=bench/floods/target/release/floods

work=$(mktemp -d)
trap 'bench_stop_all; rm -rf "$work"' EXIT
# nginx's worker runs unprivileged: the tree must be readable by all.
chmod 755 "$work"
mkdir "$work/site"
printf 'probe answer\n' >"$work/site/probe.txt"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$work/site/big.bin"

# start NAME: starts server NAME on PORT serving the site; sets PIDS to its processes' ids
# (comma separated) once it answers.
start() {
    local scratch cmd pid
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
        echo "floods: port $PORT is taken" >&2
        exit 1
    fi
    scratch=$(mktemp -d -p "$work")
    case $1 in
        serveur)
            cmd=${SERVEUR_CMD//\{port\}/$PORT}
            cmd=${cmd//\{dir\}/$work/site}
            # shellcheck disable=SC2086 # the command is words
            bench_start "$scratch/log" $cmd
            ;;
        nginx) bench_start "$scratch/log" env FCGIWRAP= "$ANCHORS/nginx.sh" "$PORT" "$work/site" "$scratch" ;;
        lighttpd) bench_start "$scratch/log" "$ANCHORS/lighttpd.sh" "$PORT" "$work/site" "$scratch" ;;
    esac
    pid=${BENCH_PIDS[-1]}
    bench_wait "http://127.0.0.1:$PORT/probe.txt"
    sleep 0.5
    PIDS=$(pgrep -g "$pid" | paste -sd, -)
}

# stop: stops the servers started (their process groups), and waits for the port to be free.
stop() {
    bench_stop_all
    BENCH_PIDS=()
    sleep 1
}

# load NAME KIND ARGS...: one load against a fresh server NAME; prints the tool's line.
load() {
    local name=$1 kind=$2 line; shift 2
    start "$name" >&2
    if [[ $kind == readers && $READERS_WARM == 1 ]]; then
        curl -sf -r 0-99999 -o /dev/null "http://127.0.0.1:$PORT/big.bin"
    fi
    line=$(taskset -c "$CLIENT_CPU" "$tool" "$kind" "$PORT" "$PIDS" "$@")
    stop
    echo "$line"
}

# get LINE KEY: the value of KEY in a line of key=value pairs.
get() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }

rows=()
for name in $SERVERS; do
    echo "floods: $name" >&2
    idle=$(load "$name" idle "$IDLE")
    echo "  idle: $idle" >&2
    loris=$(load "$name" slowloris "$SLOWLORIS" "$SLOWLORIS_SECONDS")
    echo "  slowloris: $loris" >&2
    readers=$(load "$name" readers "$READERS" "$READERS_SECONDS" /big.bin)
    echo "  readers: $readers" >&2
    flood=$(load "$name" connects "$CONNECT_RATE" "$CONNECT_SECONDS")
    echo "  connects: $flood" >&2
    growth=$(( ($(get "$readers" rss_peak_kib) - $(get "$readers" rss_before_kib)) / 1024 ))
    rows+=("| $name \
| $(get "$idle" bytes_per_conn) B ($(get "$idle" accepted) accepted) \
| $(get "$idle" p50_ms) / $(get "$idle" p99_ms) ms ($(get "$idle" lost) lost) \
| $(get "$loris" p99_ms) ms ($(get "$loris" lost) lost) \
| $(get "$loris" kept) of $(get "$loris" opened) \
| +$growth MiB \
| $(get "$readers" p99_ms) ms ($(get "$readers" lost) lost) \
| $(get "$flood" per_sec)/s ($(get "$flood" errors) errors) \
| $(get "$flood" p99_ms) ms ($(get "$flood" lost) lost) |")
done

echo
echo "idle: $IDLE connections; slowloris: $SLOWLORIS for ${SLOWLORIS_SECONDS} s; readers: $READERS for ${READERS_SECONDS} s (warm: $READERS_WARM); connects: $CONNECT_RATE/s asked for ${CONNECT_SECONDS} s"
echo
echo "| server | idle: RSS per accepted connection | idle: probe p50 / p99 | slowloris: probe p99 | slowloris: kept at the end | slow readers: RSS | slow readers: probe p99 | connects/s reached | connects: probe p99 |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
