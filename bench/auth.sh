#!/usr/bin/env bash
# bench/auth.sh - what access control costs (issue 17), servers pinned to one core, wrk to the
# other, interleaved runs, medians:
#   plain      1 KiB file, no access control (the baseline)
#   anon-read  the same with --auth-anon-read and a teacher account: anonymous reads
#   argon2id   the same file read by the teacher, logged in with an argon2id hash on every
#              keep-alive request (served from the verified-credentials cache)
# then a flood: wrong passwords from one address (wrk, CONN connections) against the
# argon2id server, while a second client logs in correctly once a second: the wrong attempts
# answered per second, and the correct logins' latency during the flood.
#
# Usage: bench/auth.sh [SERVEUR_BINARY]   (default target/release/serveur)
# Environment: DURATION (10), REPEATS (3), CONN (64), WARMUP (1), SERVER_CPU (0), CLIENT_CPU (1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_require wrk curl taskset setsid base64
SERVEUR=$(realpath "${1:-target/release/serveur}")

work=$(mktemp -d)
trap 'bench_stop_all; rm -rf "$work"' EXIT
head -c 1024 /dev/urandom >"$work/1k.bin"
HASH=$(echo 'correct horse' | "$SERVEUR" --hash-password)
GOOD="Basic $(printf 'teacher:correct horse' | base64 -w0)"
BAD="Basic $(printf 'teacher:wrong' | base64 -w0)"

bench_start "$work/plain.log" "$SERVEUR" -q -b 127.0.0.1 -d "$work" 19601
bench_start "$work/auth.log" "$SERVEUR" -q -b 127.0.0.1 -d "$work" \
    --auth-anon-read --auth "teacher:$HASH@/:rw" 19602
for port in 19601 19602; do bench_wait "http://127.0.0.1:$port/1k.bin"; done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $GOOD" \
    http://127.0.0.1:19602/1k.bin)
[[ $code == 200 ]] || { echo "bench: the teacher's login answered $code" >&2; exit 1; }

SCENARIOS=(small)
declare -A RESULTS=()
for ((r = 1; r <= REPEATS; r++)); do
    RESULTS["small plain"]+="$(bench_wrk http://127.0.0.1:19601/1k.bin) "
    RESULTS["small anon-read"]+="$(bench_wrk http://127.0.0.1:19602/1k.bin) "
    RESULTS["small argon2id"]+="$(bench_wrk http://127.0.0.1:19602/1k.bin "Authorization: $GOOD") "
done
bench_table plain anon-read argon2id

# The flood: wrong passwords as fast as wrk sends them, for DURATION seconds.
echo
echo "flood of wrong passwords (${DURATION} s, ${CONN} connections):"
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONN" -d"$DURATION" -H "Authorization: $BAD" \
    http://127.0.0.1:19602/1k.bin >"$work/flood.txt" &
flood=$!
sleep 1
latencies=()
for ((i = 0; i < DURATION - 2; i++)); do
    # A correct login from another address (127.0.0.2): the throttle is per address.
    t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --interface 127.0.0.2 \
        -H "Authorization: $GOOD" http://127.0.0.1:19602/1k.bin)
    [[ ${t%% *} == 200 ]] || echo "correct login answered ${t%% *}" >&2
    latencies+=("${t#* }")
    sleep 1
done
wait "$flood"
awk '/^Requests\/sec/ {print "  wrong attempts answered: " $2 " /s"}' "$work/flood.txt"
awk '/Non-2xx/ {print "  (all refused: " $0 ")"}' "$work/flood.txt"
echo "  correct logins during the flood: median $(median "${latencies[@]}") s," \
    "max $(printf '%s\n' "${latencies[@]}" | sort -g | tail -1) s (${#latencies[@]} tries)"
