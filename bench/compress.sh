#!/usr/bin/env bash
# bench/compress.sh - compressed downloads against nginx (issue 6): 100 KiB of real JavaScript
# requested with `Accept-Encoding: gzip, br`, (a) with a precompressed app.js.gz beside it
# (nginx: gzip_static on) and (b) compressed on the fly (nginx: gzip on, level 1, its default;
# serveur answers br, level 3, which the client prefers as much and which is smaller), and
# (c) on the fly with `Accept-Encoding: gzip` only, so both servers do the same work.
# Interleaved runs, servers pinned to one core, wrk to the other.
#
# Usage: bench/compress.sh [SERVEUR_BINARY]   (default target/release/serveur)
# Environment: DURATION (10), REPEATS (3), CONN (64), WARMUP (1), SERVER_CPU (0), CLIENT_CPU (1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_require wrk nginx curl gzip taskset setsid
SERVEUR=$(realpath "${1:-target/release/serveur}")

work=$(mktemp -d)
chmod 755 "$work" # nginx's worker runs as an unprivileged user and must read the files
trap 'bench_stop_all; rm -rf "$work"' EXIT
mkdir -p "$work/static" "$work/fly" "$work/nginx/tmp"
# 100 KiB of real JavaScript: the start of jQuery as Debian ships it (package libjs-jquery).
JQUERY=${JQUERY:-/usr/share/javascript/jquery/jquery.js}
[[ -r $JQUERY ]] || { echo "bench: $JQUERY is required (apt-get install libjs-jquery)" >&2; exit 1; }
head -c $((100 * 1024)) "$JQUERY" >"$work/static/app.js"
cp "$work/static/app.js" "$work/fly/app.js"
gzip -9 -k "$work/static/app.js"

{
    bench_nginx_preamble "$work/nginx"
    cat <<CONF
    gzip_types text/javascript application/javascript;
    gzip_vary on;
    server { listen 127.0.0.1:19501; root $work/static; gzip_static on; }
    server { listen 127.0.0.1:19502; root $work/fly; gzip on; gzip_comp_level 1; gzip_min_length 1024; }
}
CONF
} >"$work/nginx/nginx.conf"
bench_start "$work/nginx.log" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
bench_start "$work/s1.log" "$SERVEUR" -q -b 127.0.0.1 -d "$work/static" 19503
bench_start "$work/s2.log" "$SERVEUR" -q -b 127.0.0.1 -d "$work/fly" 19504
declare -A URL=(
    ["precompressed nginx"]=http://127.0.0.1:19501/app.js
    ["on-the-fly nginx"]=http://127.0.0.1:19502/app.js
    ["precompressed serveur"]=http://127.0.0.1:19503/app.js
    ["on-the-fly serveur"]=http://127.0.0.1:19504/app.js
)
for key in "${!URL[@]}"; do bench_wait "${URL[$key]}"; done
for key in "${!URL[@]}"; do
    coding=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip, br' "${URL[$key]}" |
        awk -F': ' 'tolower($1) == "content-encoding" {print $2}' | tr -d '\r')
    echo "$key: Content-Encoding ${coding:-none}"
done

SCENARIOS=("precompressed" "on-the-fly" "on-the-fly-gzip")
declare -A ACCEPT=(
    [precompressed]="gzip, br" [on-the-fly]="gzip, br" [on-the-fly-gzip]="gzip"
)
for server in nginx serveur; do
    URL["on-the-fly-gzip $server"]=${URL["on-the-fly $server"]}
done
declare -A RESULTS=()
for _ in $(seq "$REPEATS"); do
    for scenario in "${SCENARIOS[@]}"; do
        for server in nginx serveur; do
            RESULTS["$scenario $server"]+="$(bench_wrk "${URL["$scenario $server"]}" "Accept-Encoding: ${ACCEPT[$scenario]}") "
        done
    done
done
bench_table nginx serveur
