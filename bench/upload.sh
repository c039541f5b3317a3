#!/usr/bin/env bash
# bench/upload.sh - upload throughput: a 1 GiB PUT over loopback (curl -T, from a file in the
# page cache) to serveur --upload, to dufs --allow-upload, and to a sink that reads and drops
# the body (what curl can push on this machine), in one run. Reports the median MB/s and the
# server's CPU seconds per GiB (user + system, from /proc). Servers pinned to SERVER_CPU, curl
# to CLIENT_CPU. Needs: curl, python3, taskset, and dufs (`cargo install dufs`; DUFS=path).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
DUFS=${DUFS:-dufs}
SIZE=${SIZE:-1073741824}
bench_require curl python3 taskset "$DUFS"
cargo build --release -q
work=$(mktemp -d)
trap 'bench_stop_all; rm -rf "$work"' EXIT
head -c "$SIZE" /dev/urandom >"$work/source.bin"
cat "$work/source.bin" >/dev/null # into the page cache
mkdir "$work/serveur" "$work/dufs"

# The sink: reads the head, then Content-Length bytes into one buffer, answers 201.
cat >"$work/sink.py" <<'PY'
import socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
buf = bytearray(1 << 20)
while True:
    conn, _ = server.accept()
    head = b""
    while b"\r\n\r\n" not in head:
        head += conn.recv(65536)
    head, rest = head.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    if b"100-continue" in head.lower():
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    left = length - len(rest)
    while left > 0:
        left -= conn.recv_into(buf, min(left, len(buf)))
    conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    conn.close()
PY

bench_start "$work/serveur.log" target/release/serveur -q -b 127.0.0.1 -d "$work/serveur" --upload --upload-overwrite --upload-max 2G 18081
bench_start "$work/dufs.log" "$DUFS" -b 127.0.0.1 -p 18082 --allow-upload "$work/dufs"
bench_start "$work/sink.log" python3 "$work/sink.py" 18083
bench_wait http://127.0.0.1:18081/
bench_wait http://127.0.0.1:18082/
sleep 0.5

# cpu_ticks PID: user + system clock ticks of the process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# one NAME PORT PID: one upload; prints "MB/s cpu-seconds-per-GiB".
one() {
    local before after speed
    rm -f "$work/$1/up.bin"
    before=$(cpu_ticks "$3")
    speed=$(taskset -c "$CLIENT_CPU" curl -sS -o /dev/null -w '%{speed_upload}' \
        -T "$work/source.bin" "http://127.0.0.1:$2/up.bin")
    after=$(cpu_ticks "$3")
    echo "$speed $after $before" | awk -v hz="$hz" -v size="$SIZE" \
        '{printf "%.0f %.2f\n", $1 / 1e6, ($2 - $3) / hz * 1073741824 / size}'
}

declare -A mbs cpu
names=(serveur dufs sink)
ports=(18081 18082 18083)
for _ in $(seq "$REPEATS"); do
    for i in 0 1 2; do
        read -r m c < <(one "${names[$i]}" "${ports[$i]}" "${BENCH_PIDS[$i]}")
        mbs[${names[$i]}]+="$m "
        cpu[${names[$i]}]+="$c "
    done
done
echo "| receiver | MB/s (median of $REPEATS) | server CPU s per GiB |"
echo "|---|---|---|"
for name in "${names[@]}"; do
    # shellcheck disable=SC2086
    echo "| $name | $(median ${mbs[$name]}) | $(median ${cpu[$name]}) |"
done
