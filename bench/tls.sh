#!/usr/bin/env bash
# bench/tls.sh - HTTPS against nginx with the same certificate (issue 5): a 1 KiB file over
# TLS with HTTP/1.1 keep-alive (wrk) and over HTTP/2 (h2load), interleaved, each server pinned
# to one core and the client to the other. nginx runs one worker, access log off, as
# shared/bench/anchors/nginx.sh runs it.
#
# Usage: bench/tls.sh [SERVEUR_BINARY]   (default target/release/serveur)
# Environment: DURATION (10), REPEATS (3), CONN (64), WARMUP (1), SERVER_CPU (0), CLIENT_CPU (1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_require wrk h2load nginx openssl curl taskset setsid
SERVEUR=$(realpath "${1:-target/release/serveur}")

work=$(mktemp -d)
chmod 755 "$work" # nginx's worker runs as an unprivileged user and must read the files
trap 'bench_stop_all; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/nginx/tmp"
head -c 1024 /dev/urandom >"$work/www/1k.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

{
    bench_nginx_preamble "$work/nginx"
    cat <<CONF
    server {
        listen 127.0.0.1:19443 ssl http2;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        # nginx closes a connection after 1000 requests by default; h2load does not reconnect,
        # and wrk would pay a new handshake each time. serveur sets no such limit.
        keepalive_requests 1000000000;
        root $work/www;
    }
}
CONF
} >"$work/nginx/nginx.conf"
bench_start "$work/nginx.log" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
bench_start "$work/serveur.log" "$SERVEUR" -q -b 127.0.0.1 -d "$work/www" \
    --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" 19444
declare -A URL=([nginx]=https://127.0.0.1:19443/1k.bin [serveur]=https://127.0.0.1:19444/1k.bin)
bench_wait "${URL[nginx]}"
bench_wait "${URL[serveur]}"

SCENARIOS=("tls-h1-1k" "tls-h2-1k")
declare -A RESULTS=()
for _ in $(seq "$REPEATS"); do
    for server in nginx serveur; do
        RESULTS["tls-h1-1k $server"]+="$(bench_wrk "${URL[$server]}") "
        RESULTS["tls-h2-1k $server"]+="$(bench_h2load "${URL[$server]}") "
    done
done
bench_table nginx serveur
