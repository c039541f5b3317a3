#!/usr/bin/env bash
# bench/listing_render.sh - user-space instructions (callgrind) per listing that is rendered, not
# sent from the listing cache: each request follows a `touch` of one file of the directory, which
# inotify reports. Counted as ../shared/bench/instructions.sh counts a request (the difference of
# two runs, N1 and N2 listings), so that the render's cost is measured apart from the cache's.
#
# Usage: bench/listing_render.sh [SERVEUR_BINARY] [FLAGS] [QUERY]
#   (defaults: target/release/serveur, "--ui", ""; "?format=json" for the JSON listing)
# Environment: N1 (3), N2 (13), COUNT (10000: files in the directory, made once in $FIXTURE),
#   FIXTURE (/tmp/serveur-bench-render). Needs valgrind and curl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_require valgrind curl python3
SERVEUR=$(realpath "${1:-target/release/serveur}")
FLAGS=${2:---ui} QUERY=${3:-}
N1=${N1:-3} N2=${N2:-13} COUNT=${COUNT:-10000}
FIXTURE=${FIXTURE:-/tmp/serveur-bench-render}
dir=$FIXTURE/d$COUNT
# The tree bench/listing.sh lists: names of different lengths, one entry in 50 a directory.
if [[ ! -f $FIXTURE/.complete-$COUNT ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && for i in $(seq "$COUNT"); do
        if ((i % 50 == 0)); then mkdir "folder $i"; else printf '%*s' $((i % 997 * 13)) '' >"file-$i.txt"; fi
    done)
    touch "$FIXTURE/.complete-$COUNT"
fi

# instructions N : callgrind's total for a server that answered N listings, each after a change.
instructions() {
    local port out pid total=0 t
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    out=$(mktemp -d)
    # shellcheck disable=SC2086 # FLAGS is a list of flags
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" \
        "$SERVEUR" $FLAGS -q -b 127.0.0.1 -d "$FIXTURE" "$port" >/dev/null 2>"$out/valgrind.log" &
    pid=$!
    for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    for _ in $(seq "$1"); do
        touch "$dir/file-1.txt"
        curl -sf -o /dev/null "http://127.0.0.1:$port/d$COUNT/$QUERY"
    done
    kill -TERM "$pid"
    wait "$pid" || true
    for f in "$out"/cg.*; do
        t=$(grep -E '^(summary|totals):' "$f" | head -1 | awk '{print $2}')
        total=$((total + ${t:-0}))
    done
    rm -rf "$out"
    echo "$total"
}
i1=$(instructions "$N1")
i2=$(instructions "$N2")
echo "$SERVEUR $FLAGS /d$COUNT/$QUERY: $(((i2 - i1) / (N2 - N1))) instructions per listing rendered after a change"
