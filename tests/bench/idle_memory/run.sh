#!/usr/bin/env bash
# Where the memory of an idle keep-alive TLS connection goes (docs/performance.md, "Memory per
# idle TLS connection"): lighttpd and nginx from Debian, on this machine's loopback, one process
# each, 1,000 clients (hold.py), with one setting changed at a time. Not part of make test or
# make bench; needs: lighttpd lighttpd-mod-openssl nginx-light libjemalloc2 gcc libssl-dev.
# Usage: tests/bench/idle_memory/run.sh [COUNT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
count=${1:-1000}
for tool in lighttpd nginx gcc; do
  command -v $tool >/dev/null || { echo "missing $tool (apt-get install lighttpd lighttpd-mod-openssl nginx-light libjemalloc2 gcc libssl-dev)" >&2; exit 1; }
done
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem \
  -days 1 -subj /CN=localhost 2>/dev/null
echo hello > index.html
gcc -shared -fPIC -O2 -o release_buffers.so "$here/release_buffers.c" -ldl -lssl
ulimit -n $((count * 4 + 1024))
lighttpd_conf() {  # ssl.engine, then extra lines
  cat <<CONF
server.modules += ("mod_openssl")
server.document-root = "$work"
server.bind = "127.0.0.1"
server.port = 18443
server.max-connections = $((count * 2))
server.max-fds = $((count * 4))
server.max-keep-alive-idle = 300
server.errorlog = "$work/lighttpd.error.log"
ssl.engine = "$1"
ssl.pemfile = "$work/cert.pem"
ssl.privkey = "$work/key.pem"
$2
CONF
}
measure() {  # label, then the command that runs the server in the foreground
  local label=$1; shift
  "$@" & local pid=$!
  sleep 1
  python3 "$here/hold.py" "$count" "$pid" "$label" ${PLAIN:+--plain}
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
# exec: the measured PID is lighttpd itself.
lighttpd_run() { lighttpd_conf "$1" "$2" > lighttpd.conf; exec env ${3:-X=} lighttpd -D -f lighttpd.conf; }
PLAIN=1 measure "lighttpd, no TLS" lighttpd_run disable ""
measure "lighttpd, TLS (defaults)" lighttpd_run enable ""
measure "lighttpd, TLS, no tickets (the role's default)" lighttpd_run enable 'ssl.openssl.ssl-conf-cmd = ("Options" => "-SessionTicket", "NumTickets" => "0")'
measure "lighttpd, TLS 1.2 only" lighttpd_run enable 'ssl.openssl.ssl-conf-cmd = ("MaxProtocol" => "TLSv1.2")'
measure "lighttpd, TLS, group P-256 instead of X25519" lighttpd_run enable 'ssl.openssl.ssl-conf-cmd = ("Groups" => "P-256")'
measure "lighttpd, TLS, chunk size 1 KiB" lighttpd_run enable 'server.chunkqueue-chunk-sz = 1024'
measure "lighttpd, TLS, SSL_free_buffers when idle" lighttpd_run enable "" "LD_PRELOAD=$work/release_buffers.so"
measure "lighttpd, TLS, jemalloc" lighttpd_run enable "" "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
cat > nginx.conf <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $work/nginx.pid;
error_log $work/nginx.error.log;
events { worker_connections $((count * 2)); }
http {
  access_log off;
  keepalive_timeout 300;
  server {
    listen 127.0.0.1:18443 ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    ssl_session_cache off;
    root $work;
  }
}
CONF
measure "nginx, TLS (the bench peer's session settings)" nginx -c "$work/nginx.conf"
