#!/usr/bin/env bash
# What keeping a request's body for the cache's error handler costs (docs/cache.md, "When the
# cache is down"): Debian 12's lighttpd 1.4.69 (unpacked from its packages, not installed) with
# mod_magnet and mod_proxy in front of a backend that answers at once, on loopback. Two edges:
# one whose script only marks the request (as before 0.9.0), one whose script collects the body
# and keeps a copy (r.req_body.collect, r.req_body.get, r.req_env; as inference.lua's send_on).
# ROUNDS interleaved wrk runs; prints each pair's requests/s and their ratio. Not in make test.
# Usage: tests/bench/kept_body.sh [ROUNDS] [SECONDS]   (root; wrk is installed when missing)
set -euo pipefail
rounds=${1:-8}
seconds=${2:-6}
work=$(mktemp -d)
trap 'pkill -f "$work/" || true; rm -rf "$work"' EXIT
command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk >/dev/null
cd "$work"
apt-get download lighttpd lighttpd-modules-lua liblua5.4-0 >/dev/null
for deb in *.deb; do dpkg -x "$deb" root; done
export LD_LIBRARY_PATH=$work/root/usr/lib/x86_64-linux-gnu

cat > backend.lua <<'EOF'
lighty.r.resp_header["Content-Type"] = "application/json"
lighty.r.resp_body:set({'{"predictions": [2.5, 3.0, 4.5]}'})
return 200
EOF
cat > mark.lua <<'EOF'
local r = lighty.r; local env = r.req_env
if env["LTS_SEEN"] then return 0 end
env["LTS_SEEN"] = "1"
r.req_attr["uri.query"] = "mark"
return 0
EOF
cat > keep.lua <<'EOF'
local r = lighty.r; local env = r.req_env
local function send_on()
  if r.req_body.collect == false then env["LTS_COLLECTING"] = "1" return 0 end
  local length = r.req_body.len
  env["LTS_RETRY_BODY"] = length > 0 and r.req_body.get:sub(-length) or ""
  env["LTS_RETRY_TARGET"] = r.req_attr["request.uri"]
  r.req_attr["uri.query"] = "mark"
  return 0
end
if env["LTS_COLLECTING"] == "1" then env["LTS_COLLECTING"] = ""; r.req_attr["uri.query"] = ""; return send_on() end
if env["LTS_SEEN"] then return 0 end
env["LTS_SEEN"] = "1"
return send_on()
EOF
cat > backend.conf <<EOF
server.modules = ("mod_magnet")
server.document-root = "$work"
server.port = 18191
server.bind = "127.0.0.1"
server.errorlog = "$work/backend.log"
magnet.attract-raw-url-to = ("$work/backend.lua")
EOF
port=18192
for variant in mark keep; do
  cat > "$variant.conf" <<EOF
server.modules = ("mod_magnet", "mod_proxy")
server.document-root = "$work"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "$work/$variant.log"
\$HTTP["url"] =~ "^/v1/" {
  magnet.attract-raw-url-to = ("$work/$variant.lua")
  magnet.attract-response-start-to = ("$work/$variant.lua")
  \$HTTP["querystring"] == "mark" {
    proxy.server = ("" => (("host" => "127.0.0.1", "port" => 18191)))
  }
}
EOF
  port=$((port + 1))
done
cat > post.lua <<'EOF'
wrk.method = "POST"
wrk.body = '{"instances": [1.0, 2.0, 5.0]}'
wrk.headers["Content-Type"] = "application/json"
EOF
for conf in backend mark keep; do
  "$work/root/usr/sbin/lighttpd" -m "$work/root/usr/lib/lighttpd" -D -f "$work/$conf.conf" &
done
sleep 1
for port in 18192 18193; do
  curl -sf -X POST -d '{"instances": [1.0]}' "http://127.0.0.1:$port/v1/models/m:predict" >/dev/null
done
rate() { wrk -t1 -c16 -d"${seconds}s" -s post.lua "http://127.0.0.1:$1/v1/models/m:predict" | awk '/Requests\/sec/ {print $2}'; }
echo "round mark_rps keep_rps keep/mark"
for round in $(seq "$rounds"); do
  mark=$(rate 18192)
  keep=$(rate 18193)
  echo "$round $mark $keep $(python3 -c "print(round($keep / $mark, 3))")"
done
