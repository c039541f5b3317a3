#!/usr/bin/env bash
# php.sh - a PHP hello world through serveur -> php-fpm and through nginx -> the same php-fpm.
#
#   bench/php.sh [options]
#
# Starts one php-fpm (pm = static, --workers workers, a Unix socket in a temp dir), nginx
# (one worker, access log off, `fastcgi_pass` to that socket, config generated here) and
# serveur (`--fastcgi '*.php=unix:SOCKET'`, -q: no access log either), pins the servers and
# php-fpm to --server-cpu and wrk to --client-cpu (taskset), then runs wrk against each
# server in turn, interleaved, --repeats times, and prints req/s per run, the median per
# server and the ratio serveur / nginx. Every response must be a 200 with the hello body.
# Each run also gives the CPU time per request of the server's processes and of php-fpm's
# (user + system, from /proc, over the run's requests): on a machine shared with other work,
# req/s moves with it, CPU per request much less.
#
# Options:
#   --serveur BIN        serveur binary (default: target/release/serveur)
#   --workers N          php-fpm static workers (default 4)
#   --conn N             wrk connections (default 32)
#   --duration SEC       measured seconds per wrk run (default 10)
#   --warmup SEC         unmeasured seconds before each run, 0 = none (default 1)
#   --repeats N          interleaved repetitions (default 3)
#   --pause SEC          idle seconds after each run (default 5): serveur closes a FastCGI
#                        connection idle for 2 s (checked every 2 s), nginx's keepalive here
#                        uses keepalive_timeout 2s, so php-fpm's workers, which a kept
#                        connection holds, are free again before the other server's run
#   --nginx-keepalive N  nginx keeps N FastCGI connections open (upstream keepalive,
#                        fastcgi_keep_conn on); 0 = nginx's default, a connection per
#                        request (default 0)
#   --serveur-args ARGS  extra serveur arguments, e.g. '--fastcgi-connections 4'
#   --server-cpu CPU     CPU list for nginx, serveur and php-fpm (default 0)
#   --client-cpu CPU     CPU list for wrk (default 1)
#   --port-base PORT     nginx listens on PORT, serveur on PORT+1 (default 19300)
#   --keep               keep the temp dir (configs, logs)
#   -h, --help           this text
#
# Requires: php-fpm (Debian's php-fpm), nginx, wrk, taskset, curl.
set -euo pipefail

SERVEUR=target/release/serveur
WORKERS=4
CONN=32
DURATION=10
WARMUP=1
REPEATS=3
PAUSE=5
NGINX_KEEPALIVE=0
SERVEUR_ARGS=""
SERVER_CPU=0
CLIENT_CPU=1
PORT_BASE=19300
KEEP=0
while (($#)); do
    case $1 in
        --serveur)         SERVEUR=$2; shift ;;
        --workers)         WORKERS=$2; shift ;;
        --conn)            CONN=$2; shift ;;
        --duration)        DURATION=$2; shift ;;
        --warmup)          WARMUP=$2; shift ;;
        --repeats)         REPEATS=$2; shift ;;
        --pause)           PAUSE=$2; shift ;;
        --nginx-keepalive) NGINX_KEEPALIVE=$2; shift ;;
        --serveur-args)    SERVEUR_ARGS=$2; shift ;;
        --server-cpu)      SERVER_CPU=$2; shift ;;
        --client-cpu)      CLIENT_CPU=$2; shift ;;
        --port-base)       PORT_BASE=$2; shift ;;
        --keep)            KEEP=1 ;;
        -h|--help)         sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *)                 echo "php.sh: unknown argument $1" >&2; exit 1 ;;
    esac
    shift
done

PHP_FPM=$(ls /usr/sbin/php-fpm* 2>/dev/null | sort | tail -n1 || true)
[[ -x $PHP_FPM ]] || { echo "php.sh: php-fpm not found (apt-get install php-fpm)" >&2; exit 1; }
for tool in nginx wrk taskset curl; do
    command -v "$tool" >/dev/null || { echo "php.sh: $tool not found" >&2; exit 1; }
done
[[ -x $SERVEUR ]] || { echo "php.sh: $SERVEUR not found (cargo build --release)" >&2; exit 1; }
SERVEUR=$(realpath "$SERVEUR")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/php-bench.XXXXXX")
# nginx, started as root, runs its worker as an unprivileged user, which must reach the socket.
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if ((KEEP)); then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

SITE=$WORK/site
SOCK=$WORK/php-fpm.sock
mkdir -p "$SITE" "$WORK/nginx/tmp"
printf '<?php echo "Hello, world!\\n";\n' > "$SITE/hello.php"
EXPECTED="Hello, world!"

# php-fpm: static workers; the socket open to nginx's unprivileged worker user too.
cat > "$WORK/php-fpm.conf" <<CONF
[global]
error_log = $WORK/php-fpm.log
daemonize = no
pid = $WORK/php-fpm.pid
[bench]
listen = $SOCK
listen.mode = 0666
pm = static
pm.max_children = $WORKERS
pm.max_requests = 0
CONF
FPM_ARGS=(-F -y "$WORK/php-fpm.conf")
[[ $(id -u) == 0 ]] && FPM_ARGS+=(-R)
taskset -c "$SERVER_CPU" "$PHP_FPM" "${FPM_ARGS[@]}" &
PIDS+=($!)
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.1; done
[[ -S $SOCK ]] || { echo "php.sh: php-fpm did not start:" >&2; cat "$WORK/php-fpm.log" >&2; exit 1; }

# nginx: the same shape as shared/bench/anchors/nginx.sh, with PHP through FastCGI.
if ((NGINX_KEEPALIVE > 0)); then
    UPSTREAM="upstream php { server unix:$SOCK; keepalive $NGINX_KEEPALIVE; keepalive_timeout 2s; }"
    PASS="fastcgi_pass php; fastcgi_keep_conn on;"
else
    UPSTREAM=""
    PASS="fastcgi_pass unix:$SOCK;"
fi
NGINX_PORT=$PORT_BASE
cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    $UPSTREAM
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $SITE;
        index index.php index.html;
        location ~ \.php$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            $PASS
        }
    }
}
CONF
taskset -c "$SERVER_CPU" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2> "$WORK/nginx.log" &
PIDS+=($!)

SERVEUR_PORT=$((PORT_BASE + 1))
# shellcheck disable=SC2086 # SERVEUR_ARGS is a list of words
taskset -c "$SERVER_CPU" "$SERVEUR" -q -b 127.0.0.1 -d "$SITE" \
    --fastcgi "*.php=unix:$SOCK" $SERVEUR_ARGS "$SERVEUR_PORT" > "$WORK/serveur.log" 2>&1 &
PIDS+=($!)

wait_ready() {
    local url=$1 body
    for _ in $(seq 100); do
        body=$(curl -fsS "$url" 2>/dev/null) && [[ $body == "$EXPECTED" ]] && return 0
        sleep 0.1
    done
    echo "php.sh: $url never answered '$EXPECTED'" >&2
    cat "$WORK"/*.log >&2
    exit 1
}
NAMES=(nginx serveur)
URLS=("http://127.0.0.1:$NGINX_PORT/hello.php" "http://127.0.0.1:$SERVEUR_PORT/hello.php")
for url in "${URLS[@]}"; do wait_ready "$url"; done

# One wrk run: prints req/s and the number of requests, fails on any error or non-200 answer.
run_wrk() {
    local url=$1 seconds=$2 out
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONN" -d"${seconds}s" "$url")
    if grep -qE 'Non-2xx|Socket errors' <<< "$out"; then
        echo "php.sh: errors against $url:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ {rps = $2} / requests in / {n = $1} END {print rps, n}' <<< "$out"
}

# CPU time (clock ticks, user + system) used so far by these processes and their threads.
ticks() {
    local pid total=0
    for pid in "$@"; do
        total=$((total + $(cat /proc/"$pid"/task/*/stat 2>/dev/null | awk '{t += $14 + $15} END {print t + 0}')))
    done
    echo "$total"
}
# A server's processes: the one started and its children (nginx's worker, php-fpm's).
family() { echo "$1" $(pgrep -P "$1"); }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
FPM_PID=${PIDS[0]}
NGINX_PID=${PIDS[1]}
SERVEUR_PID=${PIDS[2]}

echo "PHP hello world, php-fpm pm=static x$WORKERS, wrk -t1 -c$CONN -d${DURATION}s," \
    "servers+php-fpm on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU," \
    "nginx FastCGI keepalive $NGINX_KEEPALIVE"
declare -A RESULTS CPU
for ((r = 1; r <= REPEATS; r++)); do
    for i in "${!NAMES[@]}"; do
        ((WARMUP > 0)) && run_wrk "${URLS[$i]}" "$WARMUP" > /dev/null
        if [[ ${NAMES[$i]} == nginx ]]; then server=$NGINX_PID; else server=$SERVEUR_PID; fi
        read -ra server_pids <<< "$(family "$server")"
        read -ra fpm_pids <<< "$(family "$FPM_PID")"
        server_before=$(ticks "${server_pids[@]}")
        fpm_before=$(ticks "${fpm_pids[@]}")
        read -r rps requests <<< "$(run_wrk "${URLS[$i]}" "$DURATION")"
        server_us=$(( ($(ticks "${server_pids[@]}") - server_before) * TICK_US * 10 / requests ))
        fpm_us=$(( ($(ticks "${fpm_pids[@]}") - fpm_before) * TICK_US * 10 / requests ))
        RESULTS[${NAMES[$i]}]+="$rps "
        CPU[${NAMES[$i]}]+="$(( (server_us + fpm_us) / 10 )) "
        printf 'run %d  %-8s %10s req/s   CPU per request: server %d.%d µs, php-fpm %d.%d µs\n' \
            "$r" "${NAMES[$i]}" "$rps" $((server_us / 10)) $((server_us % 10)) \
            $((fpm_us / 10)) $((fpm_us % 10))
        sleep "$PAUSE"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
NGINX_MEDIAN=$(median <<< "${RESULTS[nginx]}")
SERVEUR_MEDIAN=$(median <<< "${RESULTS[serveur]}")
printf '\n| server  | median req/s | runs | median CPU µs per request, server + php-fpm |\n|---|---|---|---|\n'
printf '| nginx   | %s | %s| %s |\n' "$NGINX_MEDIAN" "${RESULTS[nginx]}" "$(median <<< "${CPU[nginx]}")"
printf '| serveur | %s | %s| %s |\n' "$SERVEUR_MEDIAN" "${RESULTS[serveur]}" "$(median <<< "${CPU[serveur]}")"
awk -v s="$SERVEUR_MEDIAN" -v n="$NGINX_MEDIAN" 'BEGIN {printf "\nserveur / nginx = %.2f\n", s / n}'
