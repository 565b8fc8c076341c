#!/usr/bin/env bash
# Gatehouse vs nginx as a reverse proxy, side by side, same machine, same load.
#
#   Benchmarks/proxy/run.sh            # 10 s per case
#   ROUNDS=3 Benchmarks/proxy/run.sh   # each case 3 times, interleaved: the median round of each case is shown,
#                                      # and each ratio is the median of the per-round ratios
#   DURATION=30 CONNECTIONS=64 Benchmarks/proxy/run.sh
#
# Layout: the proxy under test is pinned to CPU 0 (taskset); the upstream (nginx `return 200`) and the load
# generator (wrk) share CPU 1. Cases:
#   nginx     plain proxy_pass with upstream keep-alive, no auth, sent the same request as the RS256 case (its
#             Authorization header is forwarded unread); and the same without the header, as earlier runs measured
#   haproxy   jwt_verify RS256 with iss/aud/exp/scope checks, upstream keep-alive (only when haproxy is installed:
#             apt-get install -y haproxy; HAProxy verifies the signature on every request, it has no token cache)
#   gatehouse RS256 route, valid token on every request (the same token, as real clients reuse theirs)
#   gatehouse the same route without a token: local 401, never relayed
#   gatehouse a public route: relay only, no token check
# For each: requests/s, p50 and p99 latency, and CPU microseconds per request of the proxy process (from
# /proc/PID/stat), plus Gatehouse's throughput and p99 against nginx's (and throughput against HAProxy's). Access
# logs are off for every proxy. Needs nginx, wrk, openssl
# (Debian: apt-get install -y nginx wrk openssl). Every run is bounded by DURATION and stops by itself.
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
CONNECTIONS=${CONNECTIONS:-32}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
UPSTREAM_PORT=18180
NGINX_PORT=18181
GATEHOUSE_PORT=18182
HAPROXY_PORT=18183
PIDS=()

cleanup() {
    for pid in "${PIDS[@]:-}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in nginx wrk openssl taskset; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y nginx wrk openssl util-linux" >&2; exit 1; }
done

GATEHOUSE=${GATEHOUSE:-$ROOT/.build/release/gatehouse}
if [ ! -x "$GATEHOUSE" ]; then
    echo "building gatehouse (release)..." >&2
    (cd "$ROOT" && swift build -c release --product gatehouse >&2)
fi

mkdir -p "$WORK/logs"
cat > "$WORK/upstream.conf" <<CONF
worker_processes 1;
pid $WORK/upstream.pid;
error_log $WORK/logs/upstream-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    server { listen 127.0.0.1:$UPSTREAM_PORT; keepalive_requests 1000000; location / { return 200 "ok\n"; } }
}
CONF
cat > "$WORK/proxy.conf" <<CONF
worker_processes 1;
pid $WORK/proxy.pid;
error_log $WORK/logs/proxy-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    upstream backend { server 127.0.0.1:$UPSTREAM_PORT; keepalive 64; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        keepalive_requests 1000000;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/issuer.key" 2>/dev/null
openssl pkey -in "$WORK/issuer.key" -pubout -out "$WORK/issuer.pub.pem"
cat > "$WORK/routes.yaml" <<CONF
listen: 127.0.0.1:$GATEHOUSE_PORT
upstream: http://127.0.0.1:$UPSTREAM_PORT
tokens:
  issuers:
    - issuer: https://bench.example/
      audience: bench
      algorithms: [RS256]
      pem_file: issuer.pub.pem
routes:
  - path: /public/**
    public: true
  - path: /api/**
    scopes: [bench:read]
CONF
TOKEN=$("$GATEHOUSE" token --config "$WORK/routes.yaml" --key "$WORK/issuer.key" --scopes bench:read --ttl 1h)

cat > "$WORK/haproxy.cfg" <<CONF
global
    maxconn 4096
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend bench
    bind 127.0.0.1:$HAPROXY_PORT
    http-request set-var(txn.bearer) http_auth_bearer
    http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
    http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('\$.iss')
    http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('\$.aud')
    http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
    http-request set-var(txn.scope) var(txn.bearer),jwt_payload_query('\$.scope')
    http-request set-var(txn.now) date()
    http-request deny status 401 unless { var(txn.alg) -m str RS256 }
    http-request deny status 401 unless { var(txn.iss) -m str https://bench.example/ }
    http-request deny status 401 unless { var(txn.aud) -m str bench }
    http-request deny status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$WORK/issuer.pub.pem") -m int 1 }
    http-request deny status 401 if { var(txn.exp),sub(txn.now) -m int lt 0 }
    http-request deny status 403 unless { var(txn.scope) -m sub bench:read }
    default_backend upstream
backend upstream
    http-reuse always
    server upstream 127.0.0.1:$UPSTREAM_PORT
CONF

taskset -c 1 nginx -p "$WORK" -c "$WORK/upstream.conf" -g "daemon off;" & PIDS+=($!)
sleep 0.5

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measure NAME PID URL [HEADER]: one bounded wrk run; appends "rps p50 p99 us non2xx" to the case's results.
measure() {
    local name=$1 pid=$2 url=$3 header=${4:-}
    local args=(-t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency)
    [ -n "$header" ] && args+=(-H "$header")
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s ${header:+-H "$header"} "$url" >/dev/null 2>&1 || true
    local before after
    before=$(cpu_ticks "$pid")
    local out
    out=$(taskset -c 1 wrk "${args[@]}" "$url")
    after=$(cpu_ticks "$pid")
    local requests rps p50 p99 non2xx
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    local hz; hz=$(getconf CLK_TCK)
    local us; us=$(awk -v t=$((after - before)) -v hz="$hz" -v r="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')
    echo "$rps $p50 $p99 $us ${non2xx:-0}" >> "$WORK/results-${name// /_}"
    [ "$ROUNDS" -gt 1 ] && printf "  round: %-32s %8s req/s\n" "$name" "$rps" >&2
    return 0
}

# report NAME: the round with the median requests/s.
report() {
    local name=$1 file="$WORK/results-${1// /_}"
    [ -f "$file" ] || return 0
    local line; line=$(sort -n "$file" | awk '{ lines[NR] = $0 } END { print lines[int((NR + 1) / 2)] }')
    # shellcheck disable=SC2086
    printf "%-34s %10s %9s %9s %10s %9s\n" "$name" $line
}

taskset -c 0 nginx -p "$WORK" -c "$WORK/proxy.conf" -g "daemon off;" & NGINX_PID=$!; PIDS+=($NGINX_PID)
HAPROXY_PID=
if command -v haproxy >/dev/null; then
    taskset -c 0 haproxy -f "$WORK/haproxy.cfg" & HAPROXY_PID=$!; PIDS+=($HAPROXY_PID)
fi
(cd "$WORK" && exec taskset -c 0 "$GATEHOUSE" serve --config routes.yaml --threads 1 --no-access-log --log-level error) & GH_PID=$!; PIDS+=($GH_PID)
sleep 1
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)

CASES=("nginx proxy_pass" "nginx proxy_pass, no token" "haproxy jwt_verify RS256" "gatehouse RS256 token" "gatehouse no token (local 401)" "gatehouse public route")
# Rounds interleave the cases, so that a slow spell of a shared machine does not land on one case only.
for ((round = 1; round <= ROUNDS; round++)); do
    measure "nginx proxy_pass" "$NGINX_WORKER" "http://127.0.0.1:$NGINX_PORT/api/orders" "Authorization: Bearer $TOKEN"
    measure "nginx proxy_pass, no token" "$NGINX_WORKER" "http://127.0.0.1:$NGINX_PORT/api/orders"
    if [ -n "$HAPROXY_PID" ]; then
        measure "haproxy jwt_verify RS256" "$HAPROXY_PID" "http://127.0.0.1:$HAPROXY_PORT/api/orders" "Authorization: Bearer $TOKEN"
    fi
    measure "gatehouse RS256 token" "$GH_PID" "http://127.0.0.1:$GATEHOUSE_PORT/api/orders" "Authorization: Bearer $TOKEN"
    measure "gatehouse no token (local 401)" "$GH_PID" "http://127.0.0.1:$GATEHOUSE_PORT/api/orders"
    measure "gatehouse public route" "$GH_PID" "http://127.0.0.1:$GATEHOUSE_PORT/public/x"
done

echo "Gatehouse proxy benchmark: $(nproc) cores, ${DURATION}s per case, $ROUNDS round(s) (median shown), $CONNECTIONS connections, proxy on CPU 0"
printf "%-34s %10s %9s %9s %10s %9s\n" "case" "req/s" "p50" "p99" "CPU us/req" "non-2xx"
for name in "${CASES[@]}"; do report "$name"; done

# ratio FIELD A B: A's value over B's within each round (the two ran side by side, minutes apart at most), then the
# median of those: a slow spell of a shared machine moves both sides of one round, not one side of the ratio. FIELD
# is 1 for requests/s, 3 for p99 (wrk's latencies carry a unit: us, ms or s).
ratio() {
    paste -d' ' <(cut -d' ' -f"$1" "$WORK/results-${2// /_}") <(cut -d' ' -f"$1" "$WORK/results-${3// /_}") | awk '
        function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return (v + 0) * 1000; if (v ~ /s$/) return (v + 0) * 1e6; return v + 0 }
        us($2) > 0 { n++; r[n] = us($1) / us($2); all = all sprintf(" %.2f", r[n]) }
        END {
            if (n == 0) { print "n/a"; exit }
            # Sorted copy for the median; the list stays in round order.
            for (i = 1; i <= n; i++) s[i] = r[i]
            for (i = 2; i <= n; i++) { v = s[i]; for (j = i - 1; j >= 1 && s[j] > v; j--) s[j + 1] = s[j]; s[j + 1] = v }
            m = n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
            printf "%.2f (per round:%s)\n", m, all
        }'
}
echo
echo "ratio gatehouse (RS256 token) / nginx proxy_pass (same request): $(ratio 1 "gatehouse RS256 token" "nginx proxy_pass")"
echo "ratio gatehouse (RS256 token) / nginx proxy_pass, no token: $(ratio 1 "gatehouse RS256 token" "nginx proxy_pass, no token")"
if [ -f "$WORK/results-haproxy_jwt_verify_RS256" ]; then
    echo "ratio gatehouse (RS256 token) / haproxy jwt_verify: $(ratio 1 "gatehouse RS256 token" "haproxy jwt_verify RS256")"
fi
echo "p99 gatehouse (RS256 token) / nginx proxy_pass (same request): $(ratio 3 "gatehouse RS256 token" "nginx proxy_pass")"
