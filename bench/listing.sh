#!/usr/bin/env bash
# bench/listing.sh - directory listings and folder downloads against nginx (issue 18), in one
# run on one machine:
#   1. wrk on a 1,000-file directory: nginx's `autoindex on` page, serveur's plain (Python's)
#      page and serveur's rich page (`--ui`); nginx's `autoindex_format json` and serveur's
#      `?format=json` (`--listing-json`);
#   2. a 10,000-file directory: the server's CPU time per listing (utime + stime of all its
#      processes over a wrk run, divided by the requests answered); serveur keeps its rich page
#      and JSON in memory while the directory is unchanged, so they are measured again with a
#      `touch` of one file before each request (COLD listings by curl): the render itself;
#   3. a 1 GiB folder of mixed random files (made once in $SCRATCH: many small, some big; random
#      so that nothing compresses) as `?download=zip` against the same bytes as one file, with
#      curl, and serveur's peak memory meanwhile (VmHWM of a serveur started for this part).
# Interleaved runs, servers pinned to one core, wrk and curl to the other; medians and ratios.
#
# Usage: bench/listing.sh [SERVEUR_BINARY]   (default target/release/serveur)
# Environment: DURATION (10), REPEATS (3), CONN (64), WARMUP (1), SERVER_CPU (0), CLIENT_CPU (1),
#   COLD (40: listings rendered after a change, per repeat),
#   UI_ARGS (serveur's flags for the rich page, default "--ui"; the row is skipped, saying so,
#   when the binary does not know the first of them), SCRATCH (where the 1 GiB folder is made
#   and kept between runs, default /tmp/serveur-bench-listing), NGINX_ANCHOR (default
#   ../shared/bench/anchors/nginx.sh, beside the clone).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_require wrk nginx curl taskset setsid pgrep
SERVEUR=$(realpath "${1:-target/release/serveur}")
NGINX_ANCHOR=${NGINX_ANCHOR:-$here/../../shared/bench/anchors/nginx.sh}
[[ -x $NGINX_ANCHOR ]] || { echo "bench: $NGINX_ANCHOR is required" >&2; exit 1; }
UI_ARGS=${UI_ARGS:---ui}
SCRATCH=${SCRATCH:-/tmp/serveur-bench-listing}
TICKS=$(getconf CLK_TCK)

work=$(mktemp -d)
chmod 755 "$work" # nginx's worker runs as an unprivileged user and must read the files
trap 'bench_stop_all; rm -rf "$work"' EXIT

# The trees: names of different lengths and sizes, a few subdirectories, as a real folder has.
make_tree() { # DIR COUNT
    mkdir -p "$1"
    (cd "$1" && for i in $(seq "$2"); do
        if ((i % 50 == 0)); then mkdir "folder $i"; else printf '%*s' $((i % 997 * 13)) '' >"file-$i.txt"; fi
    done)
}
make_tree "$work/root/d1k" 1000
make_tree "$work/root/d10k" 10000
chmod -R a+rX "$work/root"

# The anchor serves the tree with `autoindex on`; a second nginx adds `autoindex_format json`.
FCGIWRAP='' bench_start "$work/nginx-html.log" "$NGINX_ANCHOR" 19601 "$work/root" "$work/nginx-html"
FCGIWRAP='' NGINX_HTTP_EXTRA='autoindex_format json;' \
    bench_start "$work/nginx-json.log" "$NGINX_ANCHOR" 19602 "$work/root" "$work/nginx-json"
bench_start "$work/plain.log" "$SERVEUR" -q -b 127.0.0.1 -d "$work/root" --listing-json 19603
# Each row's server and URL suffix; serveur answers JSON to its query, on the same process.
declare -A BASE=(
    [nginx]=http://127.0.0.1:19601 [nginx-json]=http://127.0.0.1:19602
    [serveur]=http://127.0.0.1:19603 [serveur-json]=http://127.0.0.1:19603
    [serveur-ui]=http://127.0.0.1:19604
)
declare -A QUERY=([serveur-json]="?format=json")
declare -A SID=(
    [nginx]=${BENCH_PIDS[0]} [nginx-json]=${BENCH_PIDS[1]}
    [serveur]=${BENCH_PIDS[2]} [serveur-json]=${BENCH_PIDS[2]}
)
ui_flag=${UI_ARGS%% *}
if "$SERVEUR" --help | grep -qE -- "^ +(-[a-zA-Z], )?$ui_flag( |$)"; then
    # shellcheck disable=SC2086 # UI_ARGS is a list of flags
    bench_start "$work/ui.log" "$SERVEUR" -q -b 127.0.0.1 -d "$work/root" $UI_ARGS 19604
    SID[serveur-ui]=${BENCH_PIDS[-1]}
else
    echo "skipped: the rich page rows ($SERVEUR has no $ui_flag yet)"
fi
# url SERVER DIR : the listing of DIR as SERVER answers it.
url() { echo "${BASE[$1]}/$2/${QUERY[$1]:-}"; }
for server in "${!SID[@]}"; do bench_wait "$(url "$server" d1k)"; done
# The pages are what they claim: status, type and size, once.
for server in "${!SID[@]}"; do
    curl -s -o /dev/null -w "$server /d1k/: %{http_code} %{content_type} %{size_download} bytes\n" "$(url "$server" d1k)"
done

# ticks SID : CPU ticks (user + system) used so far by every process of the session SID.
ticks() {
    local pid total=0
    for pid in $(pgrep -s "$1"); do
        # Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
    done
    echo "$total"
}
# cpu_ms SID URL : milliseconds of the server's CPU per request over one wrk run.
cpu_ms() {
    local before after requests
    before=$(ticks "$1")
    requests=$(taskset -c "$CLIENT_CPU" wrk -t1 -c4 -d"$DURATION" "$2" | awk '/requests in/ {print $1}')
    after=$(ticks "$1")
    awk -v t=$((after - before)) -v hz="$TICKS" -v n="$requests" 'BEGIN {printf "%.2f", t * 1000 / hz / n}'
}

# cold_ms SID URL DIR : milliseconds of the server's CPU per listing of DIR when each follows a
# change in it (a `touch` of one file, which inotify reports): what a render costs, cache or not.
cold_ms() {
    local before after
    before=$(ticks "$1")
    for _ in $(seq "$COLD"); do
        touch "$3/file-1.txt"
        taskset -c "$CLIENT_CPU" curl -s -o /dev/null "$2"
    done
    after=$(ticks "$1")
    awk -v t=$((after - before)) -v hz="$TICKS" -v n="$COLD" 'BEGIN {printf "%.2f", t * 1000 / hz / n}'
}
COLD=${COLD:-40}

SCENARIOS=("html 1k" "json 1k")
declare -A RESULTS=() CPU=()
declare -A ROWS=([html]="nginx serveur serveur-ui" [json]="nginx-json serveur-json")
for _ in $(seq "$REPEATS"); do
    for kind in html json; do
        for server in ${ROWS[$kind]}; do
            [[ -n ${SID[$server]:-} ]] || continue
            RESULTS["$kind 1k $server"]+="$(bench_wrk "$(url "$server" d1k)") "
            CPU["$kind 10k $server"]+="$(cpu_ms "${SID[$server]}" "$(url "$server" d10k)") "
            if [[ $server == serveur-ui || $server == serveur-json ]]; then
                CPU["$kind 10k $server after a change"]+="$(cold_ms "${SID[$server]}" "$(url "$server" d10k)" "$work/root/d10k") "
            fi
        done
    done
done
echo
echo "1,000 files, requests/s (wrk -t1 -c$CONN, ${DURATION}s, $REPEATS runs):"
bench_table nginx serveur serveur-ui nginx-json serveur-json
echo
echo "10,000 files, server CPU per listing, ms (median of $REPEATS runs):"
for key in "html 10k nginx" "html 10k serveur" "html 10k serveur-ui" "html 10k serveur-ui after a change" \
    "json 10k nginx-json" "json 10k serveur-json" "json 10k serveur-json after a change"; do
    [[ -n ${CPU[$key]:-} ]] || continue
    # shellcheck disable=SC2086
    printf '%-38s %8s   %s\n' "$key" "$(median ${CPU[$key]})" "${CPU[$key]}"
done

# 3. The 1 GiB folder, made once: 2,000 files of 1-64 KiB (~65 MiB) and 8 of 120 MiB, random.
folder=$SCRATCH/mixed
if [[ ! -f $SCRATCH/.complete ]]; then
    echo "making $folder (once)"
    rm -rf "$SCRATCH"
    mkdir -p "$folder/small" "$folder/big"
    for i in $(seq 2000); do head -c $(((i * 7919) % 65536 + 1024)) /dev/urandom >"$folder/small/$i.bin"; done
    for i in $(seq 8); do head -c $((120 << 20)) /dev/urandom >"$folder/big/$i.bin"; done
    # The same bytes as one file.
    find "$folder" -type f -print0 | sort -z | xargs -0 cat >"$SCRATCH/one.bin"
    touch "$SCRATCH/.complete"
fi
chmod -R a+rX "$SCRATCH"
bench_start "$work/zip.log" "$SERVEUR" -q -b 127.0.0.1 -d "$SCRATCH" --archive 19605
zip_pid=${BENCH_PIDS[-1]}
bench_wait "http://127.0.0.1:19605/one.bin"
# Both read once, so the page cache holds them for every measured run.
curl -s -o /dev/null "http://127.0.0.1:19605/mixed/?download=zip"
curl -s -o /dev/null "http://127.0.0.1:19605/one.bin"
# download URL : bytes/s of one curl download, and its size.
download() {
    taskset -c "$CLIENT_CPU" curl -s -o /dev/null -w '%{speed_download} %{size_download}\n' "$1"
}
declare -a ZIP=() ONE=()
for _ in $(seq "$REPEATS"); do
    read -r speed zip_size < <(download "http://127.0.0.1:19605/mixed/?download=zip")
    ZIP+=("$speed")
    read -r speed one_size < <(download "http://127.0.0.1:19605/one.bin")
    ONE+=("$speed")
done
zip_m=$(median "${ZIP[@]}") one_m=$(median "${ONE[@]}")
echo
echo "1 GiB folder (2,000 small + 8 big random files), MB/s (median of $REPEATS runs):"
printf '%-28s %10.0f   %s\n' "one file ($one_size bytes)" "$(awk -v v="$one_m" 'BEGIN {print v / 1e6}')" "${ONE[*]}"
printf '%-28s %10.0f   %s\n' "?download=zip ($zip_size bytes)" "$(awk -v v="$zip_m" 'BEGIN {print v / 1e6}')" "${ZIP[*]}"
echo "zip / one file: $(awk -v a="$zip_m" -v b="$one_m" 'BEGIN {printf "%.2f", a / b}')"
echo "serveur's peak memory (VmHWM) over these downloads: $(awk '/VmHWM/ {print $2, $3}' "/proc/$zip_pid/status")"
