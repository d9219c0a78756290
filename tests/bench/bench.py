# -*- coding: utf-8 -*-
"""make bench: runs the load tools inside the bench host and reports ratios.

Every figure is measured in this run and reported as a ratio against a baseline of the same
run (the backend called directly, or nginx, or the bare edge); absolute numbers are printed
too but nothing is asserted. Traffic stays on the bench host's loopback. CPU 0 serves (the
edge's lighttpd process, or nginx's one worker), CPU 1 loads (wrk, h2load, openssl s_time)
and runs the backends.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PATH = "/v1/models/half_plus_two:predict"
DURATION = int(os.environ.get("BENCH_SECONDS", "6"))
# The one-connection latency runs: long enough for a p99 that holds from run to run (at about
# 4,000 requests/s, 30 s put about 1,200 requests above the p99).
LATENCY_DURATION = int(os.environ.get("BENCH_LATENCY_SECONDS", "30"))
API_KEY = "bench-key-0123456789abcdef0123456789abcdef"


class Bench(object):
    def __init__(self, host, inventory, out):
        self.host, self.inventory, self.out = host, inventory, out
        self.results = {"runs": [], "ratios": {}}

    # ------------------------------------------------------------------ plumbing
    def sh(self, command, env=None, check=True):
        args = ["podman", "exec"]
        for key, value in (env or {}).items():
            args += ["-e", "%s=%s" % (key, value)]
        proc = subprocess.run(args + [self.host, "bash", "-c", command], capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError("%s: %s%s" % (command, proc.stdout, proc.stderr))
        return proc.stdout

    def converge(self, label, **overrides):
        """Render the edge again (--tags lighttpd_config) with some variables changed."""
        cmd = ["ansible-playbook", "-i", self.inventory, os.path.join(ROOT, "tests", "bench", "bench.yml"),
               "--tags", "lighttpd_config", "-e", "@" + os.path.join(ROOT, "tests", "bench", "edge-default.yml"),
               "-e", json.dumps(dict(overrides, standin_deb=os.environ["BENCH_STANDIN_DEB"]))]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError("converge %s failed:\n%s" % (label, proc.stdout[-3000:]))
        self.pin_edge()
        time.sleep(1)

    def pin_edge(self):
        # Every process of the edge's unit: lighttpd, and a piped access logger when one runs.
        self.sh("for pid in $(cat /sys/fs/cgroup$(systemctl show -p ControlGroup --value lighttpd@edge)/cgroup.procs);"
                " do taskset -acp 0 $pid >/dev/null; done")
        # The prediction cache (when on) serves on the edge's core too.
        self.sh("for pid in $(pgrep -f '^/usr/sbin/varnishd'); do taskset -acp 0 $pid >/dev/null; done", check=False)

    def cache_counts(self):
        out = self.sh("varnishstat -n /run/lighttpd-edge-cache/varnishd -1 -f MAIN.cache_hit -f MAIN.cache_miss"
                      " -f MAIN.s_pass")
        return {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if line.strip()}

    def cached_wrk(self, name, url, connections, inputs):
        """wrk through the prediction cache, with its hit ratio over the run. A run that the
        cache passed uncached (no version resolved) measures something else: it stops the bench."""
        before = self.cache_counts()
        run = self.wrk(name, url, connections, inputs=inputs)
        after = self.cache_counts()
        hits = after["MAIN.cache_hit"] - before["MAIN.cache_hit"]
        misses = after["MAIN.cache_miss"] - before["MAIN.cache_miss"]
        passed = after["MAIN.s_pass"] - before["MAIN.s_pass"]
        run["hit_ratio"] = round(hits / float(hits + misses), 4) if hits + misses else None
        run["passed_uncached"] = passed
        print("  %-34s hit ratio %s, passed uncached %d" % ("", run["hit_ratio"], passed), flush=True)
        if passed > (hits + misses) / 100.0:
            raise RuntimeError("%s: %d requests passed the cache uncached (%d hits, %d misses): the cache "
                               "resolved no version" % (name, passed, hits, misses))
        return run

    def start_services(self):
        self.sh("cp /etc/lighttpd/tls/edge.pem /etc/nginx/bench-edge.pem && cp /etc/lighttpd/tls/edge.key /etc/nginx/bench-edge.key"
                " && chmod 0600 /etc/nginx/bench-edge.key")
        for unit, command in (
                ("bench-backend", "nginx -c /etc/nginx/bench-backend.conf -g 'daemon off;'"),
                ("bench-peer", "nginx -c /etc/nginx/bench-peer.conf -g 'daemon off;'"),
                ("bench-standin", "taskset -c 1 /usr/bin/tensorflow_model_server --port=8500"
                                  " --rest_api_port=8502 --model_name=half_plus_two"
                                  " --model_base_path=/opt/bench/models/half_plus_two")):
            self.sh("systemctl stop %s 2>/dev/null; systemd-run --unit=%s --collect %s >/dev/null" % (unit, unit, command),
                    check=False)
        self.pin_edge()
        for port in (8501, 8502, 8443):
            for _ in range(60):
                if self.sh("curl -sk -o /dev/null -w '%%{http_code}' -d '{\"instances\": [1.0]}' "
                           "%s://127.0.0.1:%d%s" % ("https" if port == 8443 else "http", port, PATH), check=False) == "200":
                    break
                time.sleep(0.5)
            else:
                raise RuntimeError("port %d does not answer" % port)

    def machine(self):
        info = {
            "release": self.results.get("machine", {}).get("release", "debian12"),
            "os": self.sh(". /etc/os-release && echo \"$PRETTY_NAME\"").strip(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": "make bench",
            "cpu": self.sh("lscpu | sed -n 's/^Model name: *//p'").strip(),
            "cpus": self.sh("nproc").strip(),
            "kernel": self.sh("uname -r").strip(),
            "lighttpd": self.sh("lighttpd -v | head -1").strip(),
            "nginx": self.sh("nginx -v 2>&1").strip(),
            "openssl": self.sh("openssl version").strip(),
            "wrk": self.sh("wrk -v 2>&1 | head -1", check=False).strip(),
            "h2load": self.sh("h2load --version | head -1").strip(),
            "seconds_per_run": DURATION,
        }
        self.results["machine"] = info
        return info

    # ------------------------------------------------------------------ load tools
    def wrk(self, name, url, connections, api_key=False, close=False, bearer=None, inputs=None, seconds=None):
        env = {}
        script = "/opt/bench/post.lua"
        if inputs:  # varying inputs (inputs.lua): skew or distinct
            script = "/opt/bench/inputs.lua"
            env["BENCH_INPUTS"] = inputs
            env["BENCH_SEED"] = str(len(self.results["runs"]) + 1)
        if api_key:
            env["BENCH_API_KEY"] = API_KEY
        if bearer:
            env["BENCH_BEARER"] = bearer
        if close:
            env["BENCH_CLOSE"] = "1"
        out = self.sh("taskset -c 1 wrk -t1 -c%d -d%ds --latency -s %s %s"
                      % (connections, seconds or DURATION, script, shlex.quote(url)), env=env)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
        run = {"name": name, "tool": "wrk", "connections": connections, "seconds": seconds or DURATION,
               "rps": rps, "requests": total,
               "errors": errors, "p50_ms": _ms(out, "50%"), "p99_ms": _ms(out, "99%")}
        return self._record(run)

    def h2load(self, name, url, connections):
        self.sh("printf '%s' > /opt/bench/body.json" % '{"instances": [1.0, 2.0, 5.0]}')
        out = self.sh("taskset -c 1 h2load -c%d -m1 -D%d -d /opt/bench/body.json -H 'Content-Type: application/json' %s"
                      % (connections, DURATION, shlex.quote(url)))
        rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
        done = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
        mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out)
        run = {"name": name, "tool": "h2load", "connections": connections, "rps": rps, "requests": int(done.group(2)),
               "errors": int(done.group(4)) + int(done.group(5)), "mean_ms": _duration_ms(mean.group(1)) if mean else None}
        return self._record(run)

    def s_time(self, name, port, reuse):
        out = self.sh("taskset -c 1 openssl s_time -connect 127.0.0.1:%d %s -time %d 2>&1"
                      % (port, "-reuse" if reuse else "-new", DURATION))
        match = re.search(r"(\d+) connections in ([\d.]+) real seconds", out)
        per_second = int(match.group(1)) / float(match.group(2))
        return self._record({"name": name, "tool": "openssl s_time", "connections_per_s": per_second,
                             "resumption_requested": reuse})

    def _record(self, run):
        self.results["runs"].append(run)
        shown = {k: v for k, v in run.items() if k not in ("name", "tool")}
        print("  %-34s %s" % (run["name"], shown), flush=True)
        return run

    def memory(self, unit):
        """RSS KiB of the unit's processes (kernel socket buffers are not in it)."""
        procs = self.sh("cat $(find /sys/fs/cgroup -type d -name %s | head -1)/cgroup.procs" % shlex.quote(unit)).split()
        return sum(int(self.sh("awk '/^VmRSS/ {print $2}' /proc/%s/status" % pid, check=False).strip() or 0) for pid in procs)

    def profile(self, edge):
        """Where the edge's CPU goes at 64 connections: `perf record` on CPU 0 (the edge's core)
        from this machine while wrk runs, then the shares of lighttpd's samples by library and
        by function (PROFILE.txt beside results.json). Skipped where perf is missing."""
        if not shutil.which("perf"):
            print("  perf is missing on this machine: no profile (apt-get install linux-perf)", flush=True)
            return
        data = os.path.join(self.out, "perf.data")
        pid = self.edge_pid_on_machine()
        print("profile of the edge at 64 connections (perf record -p %s, %d s):" % (pid, DURATION), flush=True)
        record = subprocess.Popen(["perf", "record", "-q", "-p", pid, "-F", "999", "-o", data, "--", "sleep", str(DURATION)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            self.wrk("edge c64 under perf", edge, 64)
        finally:
            _, err = record.communicate(timeout=DURATION + 60)
        if record.returncode != 0 or not os.path.exists(data):
            print("  perf record failed (%s): no profile" % err.strip()[-300:], flush=True)
            return
        report = ["perf", "report", "-i", data, "--stdio", "--no-children",
                  "--percentage", "relative", "--percent-limit", "0.5"]
        by_library = subprocess.run(report + ["--sort", "dso"], capture_output=True, text=True).stdout
        by_function = subprocess.run(report + ["--sort", "dso,sym"], capture_output=True, text=True).stdout
        with open(os.path.join(self.out, "profile.txt"), "w") as handle:
            handle.write("# %s\n%s\n# %s\n%s" % (" ".join(report + ["--sort", "dso"]), by_library,
                                                   " ".join(report + ["--sort", "dso,sym"]), by_function))
        shares = re.findall(r"^\s+([\d.]+)%\s+(\S.*?)\s*$", by_library, re.M)
        functions = re.findall(r"^\s+([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(\S.*?)\s*$", by_function, re.M)
        self.results["profile_c64"] = {"by_library": [[float(p), d] for p, d in shares],
                                       "top_functions": [[float(p), d, f] for p, d, f in functions[:20]]}
        for percent, library in shares[:8]:
            print("  %6s%%  %s" % (percent, library), flush=True)
        os.unlink(data)

    def edge_pid_on_machine(self):
        """The edge's lighttpd as this machine sees it: its cgroup inside the container is a
        sub-cgroup of the container's, whose cgroup.procs lists the machine's PIDs."""
        container = subprocess.run(["podman", "inspect", "-f", "{{.Id}}", self.host], capture_output=True,
                                   text=True, check=True).stdout.strip()
        group = self.sh("systemctl show -p ControlGroup --value lighttpd@edge").strip()
        for top, _, files in os.walk("/sys/fs/cgroup"):
            if container in top and top.endswith(group) and "cgroup.procs" in files:
                with open(os.path.join(top, "cgroup.procs")) as handle:
                    return handle.read().split()[0]
        raise RuntimeError("the cgroup of lighttpd@edge in %s was not found on this machine" % self.host)

    def tail_experiments(self, edge, default):
        """What moves the edge's p99 at one connection (issue 30): the same run with the access
        log's reader (the metrics exporter) stopped, and with the access log written through a
        pipe by another process (`accesslog.filename = "|..."`, edited on the host: an
        experiment, not something the role renders). The rendered file comes back after."""
        ratios = self.results["ratios"]
        # The exporter as 0.6.0 ran it: its background read of the logs once a second
        # (now every 5 s; a drop-in adds --poll-seconds 1, removed after).
        dropin = "/etc/systemd/system/lighttpd-edge-exporter.service.d"
        argv = self.sh("systemctl show -p ExecStart --value lighttpd-edge-exporter").split("argv[]=")[1].split(" ;")[0]
        self.sh("mkdir -p %s && printf '[Service]\\nExecStart=\\nExecStart=%%s --poll-seconds 1\\n' %s > %s/bench.conf"
                " && systemctl daemon-reload && systemctl restart lighttpd-edge-exporter"
                % (dropin, shlex.quote(argv.strip()), dropin))
        try:
            every_second = self.wrk("edge c1 %ds, exporter reading every 1 s" % LATENCY_DURATION, edge, 1,
                                    seconds=LATENCY_DURATION)
        finally:
            self.sh("rm -rf %s && systemctl daemon-reload && systemctl restart lighttpd-edge-exporter" % dropin)
        self.sh("systemctl stop lighttpd-edge-exporter")
        try:
            quiet = self.wrk("edge c1 %ds, exporter stopped" % LATENCY_DURATION, edge, 1, seconds=LATENCY_DURATION)
        finally:
            self.sh("systemctl start lighttpd-edge-exporter")
        conf = "/etc/lighttpd/instances/edge/lighttpd.conf"
        self.sh("cp %s /opt/bench/edge.conf.rendered && sed -i 's|^accesslog.filename = .*|"
                "accesslog.filename = \"\\|exec /bin/cat >> /var/log/lighttpd-edge/access-pipe.log\"|' %s"
                " && grep -q '^accesslog.filename = \"|' %s" % (conf, conf, conf))
        try:
            self.restart_edge()
            piped = self.wrk("edge c1 %ds, access log through a pipe" % LATENCY_DURATION, edge, 1,
                             seconds=LATENCY_DURATION)
        finally:
            self.sh("cp /opt/bench/edge.conf.rendered %s && rm -f /var/log/lighttpd-edge/access-pipe.log" % conf)
            self.restart_edge()
        ratios["edge p99 c1: exporter reading every 1 s / as rendered"] = _ratio(every_second["p99_ms"], default["p99_ms"])
        ratios["edge p99 c1: exporter stopped / as rendered"] = _ratio(quiet["p99_ms"], default["p99_ms"])
        ratios["edge p99 c1: access log through a pipe / as rendered"] = _ratio(piped["p99_ms"], default["p99_ms"])

    def restart_peer(self):
        # A transient unit (systemd-run --collect) is gone once stopped: start it anew, again
        # while systemd still holds the old one's name.
        self.sh("systemctl stop bench-peer; for _ in $(seq 20); do systemd-run --unit=bench-peer --collect"
                " nginx -c /etc/nginx/bench-peer.conf -g 'daemon off;' >/dev/null 2>&1 && exit 0; sleep 0.5; done;"
                " exit 1")

    def restart_edge(self):
        self.sh("systemctl restart lighttpd@edge")
        self.pin_edge()

    def idle_connections(self, name, unit, port, restart, count=1000):
        """Memory per idle keep-alive TLS connection: COUNT clients each send one request and
        stay connected while the unit's memory is read (within the edge's 5 s keep-alive idle).

        The server is restarted first: a process that served the load runs before keeps the
        heap they grew (glibc does not hand freed memory back), so new connections would reuse
        pages already counted in `before`. Until 0.6.0 only the edge was restarted (by the
        converge before this part) and nginx measured 4.1 KiB per connection; both fresh, it
        holds what it holds outside the bench (docs/performance.md)."""
        restart()
        time.sleep(2)
        before = self.memory(unit)
        script = ("import socket, ssl, sys, time\n"
                  "ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n"
                  "held = []\n"
                  "for _ in range(%d):\n"
                  "    s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', %d)), server_hostname='localhost')\n"
                  "    s.sendall(b'GET /v1/models/half_plus_two HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n'); s.recv(65536)\n"
                  "    held.append(s)\n"
                  "print('ready', flush=True); sys.stdin.readline()\n" % (count, port))
        self.sh("printf '%%s' %s > /opt/bench/hold.py" % shlex.quote(script))
        proc = subprocess.Popen(["podman", "exec", "-i", self.host, "taskset", "-c", "1", "python3", "/opt/bench/hold.py"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("%s: the clients did not connect" % name)
            held = self.memory(unit)
        finally:
            proc.communicate("\n", timeout=60)
        per = (held - before) / float(count)
        return self._record({"name": name, "tool": "python ssl clients", "connections": count,
                             "rss_kib_per_connection": round(per, 1),
                             "connections_per_gib": int(1048576 / per) if per > 0 else None})

    # ------------------------------------------------------------------ the plan
    def run(self):
        info = self.machine()
        print("bench host (%s): %s, %s CPUs, %s; %s; %s; %s s per run"
              % (info["release"], info["cpu"], info["cpus"], info["kernel"], info["lighttpd"], info["nginx"], DURATION),
              flush=True)
        self.start_services()
        edge = "https://127.0.0.1:443" + PATH
        peer = "https://127.0.0.1:8443" + PATH
        direct = "http://127.0.0.1:8501" + PATH
        ratios = self.results["ratios"]

        print("serving path, fixed backend, HTTP/1.1 keep-alive (wrk):", flush=True)
        by = {}
        for connections in (1, 64, 256):
            by[("direct", connections)] = self.wrk("direct c%d" % connections, direct, connections)
            by[("edge", connections)] = self.wrk("edge c%d" % connections, edge, connections)
            by[("nginx", connections)] = self.wrk("nginx c%d" % connections, peer, connections)
            ratios["edge/nginx rps c%d" % connections] = _ratio(by[("edge", connections)]["rps"], by[("nginx", connections)]["rps"])
            ratios["edge/direct rps c%d" % connections] = _ratio(by[("edge", connections)]["rps"], by[("direct", connections)]["rps"])
        ratios["edge added p50 ms c1"] = round(by[("edge", 1)]["p50_ms"] - by[("direct", 1)]["p50_ms"], 3)
        ratios["nginx added p50 ms c1"] = round(by[("nginx", 1)]["p50_ms"] - by[("direct", 1)]["p50_ms"], 3)

        print("latency at one connection, %d s runs (wrk):" % LATENCY_DURATION, flush=True)
        slow = {who: self.wrk("%s c1 %ds" % (who, LATENCY_DURATION), url, 1, seconds=LATENCY_DURATION)
                for who, url in (("direct", direct), ("edge", edge), ("nginx", peer))}
        # Target (issue 30): the edge's p99 at most 1.5x nginx's.
        ratios["edge/nginx p99 c1 (%d s)" % LATENCY_DURATION] = _ratio(slow["edge"]["p99_ms"], slow["nginx"]["p99_ms"])
        ratios["edge/nginx p50 c1 (%d s)" % LATENCY_DURATION] = _ratio(slow["edge"]["p50_ms"], slow["nginx"]["p50_ms"])
        self.tail_experiments(edge, slow["edge"])

        self.profile(edge)

        print("serving path, fixed backend, HTTP/2 (h2load):", flush=True)
        for connections in (64, 256):
            e = self.h2load("edge h2 c%d" % connections, edge, connections)
            n = self.h2load("nginx h2 c%d" % connections, peer, connections)
            ratios["edge/nginx rps h2 c%d" % connections] = _ratio(e["rps"], n["rps"])

        print("full TLS handshakes (a new connection per request, wrk):", flush=True)
        e = self.wrk("edge handshake c16", edge, 16, close=True)
        n = self.wrk("nginx handshake c16", peer, 16, close=True)
        ratios["edge/nginx full handshakes"] = _ratio(e["rps"], n["rps"])

        print("features of the edge, each against the bare edge (c64, wrk):", flush=True)
        default = by[("edge", 64)]
        self.converge("bare", lighttpd_rate_limit_enabled=False)
        bare = self.wrk("edge bare c64", edge, 64)
        self.converge("api keys", lighttpd_api_key_sha256=[hashlib.sha256(API_KEY.encode()).hexdigest()])
        keys = self.wrk("edge limiter + API key c64", edge, 64, api_key=True)
        ratios["edge limiter / bare"] = _ratio(default["rps"], bare["rps"])
        ratios["edge limiter + API key / bare"] = _ratio(keys["rps"], bare["rps"])

        print("access tokens (OpenID Connect, RS256), each against the bare edge (c64, wrk):", flush=True)
        token = self.sh("python3 /opt/bench/issuer.py setup").strip()
        self.sh("systemctl stop bench-issuer 2>/dev/null; systemd-run --unit=bench-issuer --collect"
                " taskset -c 1 python3 /opt/bench/issuer.py serve >/dev/null; sleep 1", check=False)
        oidc = {"lighttpd_oidc_issuer": "https://localhost:9443", "lighttpd_oidc_audiences": ["https://bench/v1"],
                "lighttpd_oidc_ca_file": "/opt/bench/issuer/tls.pem", "lighttpd_oidc_default_scopes": ["predict"]}
        self.converge("oidc, every request verified", lighttpd_rate_limit_enabled=False, lighttpd_oidc_cache_entries=0, **oidc)
        cold = self.wrk("edge token verified each time c64", edge, 64, bearer=token)
        # A forged token of the largest size the edge reads (lighttpd_oidc_token_max_bytes, 8192),
        # with a header naming the real key: refused after one signature check, before its
        # payload is decoded. No failure budget, so that every request reaches the verifier.
        self.converge("oidc, forged tokens, no failure budget", lighttpd_rate_limit_enabled=False,
                      lighttpd_oidc_cache_entries=0, lighttpd_api_key_failures_per_minute=0, **oidc)
        forged = self.wrk("edge forged 8 KiB token refused c64", edge, 64,
                          bearer=self.sh("python3 /opt/bench/issuer.py forge 8000").strip())
        self.converge("oidc, verified tokens remembered", lighttpd_rate_limit_enabled=False, **oidc)
        cached = self.wrk("edge token remembered c64", edge, 64, bearer=token)
        self.converge("api key, no limiter", lighttpd_rate_limit_enabled=False,
                      lighttpd_api_key_sha256=[hashlib.sha256(API_KEY.encode()).hexdigest()])
        key_only = self.wrk("edge API key (no limiter) c64", edge, 64, api_key=True)
        ratios["API key / bare"] = _ratio(key_only["rps"], bare["rps"])
        ratios["access token verified each time / bare"] = _ratio(cold["rps"], bare["rps"])
        # Target (issue 26): a forged token costs at most 2x a genuine one's verification, i.e. >= 0.5.
        ratios["forged 8 KiB token refused / genuine token verified each time"] = _ratio(forged["rps"], cold["rps"])
        ratios["access token remembered / bare"] = _ratio(cached["rps"], bare["rps"])
        ratios["access token remembered / verified each time"] = _ratio(cached["rps"], cold["rps"])

        print("TLS resumption (openssl s_time, one client):", flush=True)
        self.converge("bare", lighttpd_rate_limit_enabled=False)
        new = self.s_time("edge tickets off: new", 443, reuse=False)
        reuse = self.s_time("edge tickets off: reuse", 443, reuse=True)
        self.converge("tickets", lighttpd_rate_limit_enabled=False, lighttpd_tls_session_tickets=True)
        t_new = self.s_time("edge tickets on: new", 443, reuse=False)
        t_reuse = self.s_time("edge tickets on: reuse", 443, reuse=True)
        ratios["connections/s, tickets off, resumption asked / full"] = _ratio(reuse["connections_per_s"], new["connections_per_s"])
        ratios["connections/s, tickets on, resumed / full"] = _ratio(t_reuse["connections_per_s"], t_new["connections_per_s"])

        print("memory per idle keep-alive TLS connection (1,000 clients):", flush=True)
        e = self.idle_connections("edge idle connections", "lighttpd@edge.service", 443, self.restart_edge)
        n = self.idle_connections("nginx idle connections", "bench-peer.service", 8443, self.restart_peer)
        ratios["edge connections per GiB"] = e["connections_per_gib"]
        ratios["nginx connections per GiB"] = n["connections_per_gib"]

        print("TF Serving stand-in backend (a Python server; c64, wrk):", flush=True)
        self.converge("stand-in", lighttpd_rate_limit_enabled=False,
                      lighttpd_inference_backends=[{"host": "127.0.0.1", "port": 8502}])
        s_direct = self.wrk("direct stand-in c64", "http://127.0.0.1:8502" + PATH, 64)
        s_edge = self.wrk("edge stand-in c64", edge, 64)
        s_nginx = self.wrk("nginx stand-in c64", "https://127.0.0.1:8444" + PATH, 64)
        ratios["stand-in: edge/direct rps"] = _ratio(s_edge["rps"], s_direct["rps"])
        ratios["stand-in: edge/nginx rps"] = _ratio(s_edge["rps"], s_nginx["rps"])

        print("prediction cache (docs/cache.md), limiter off:", flush=True)
        self.prediction_cache(edge)
        return self.results

    def prediction_cache(self, edge):
        """Repeated inputs (Zipf over 1,000) through the cache vs without, against the stand-in;
        the cost of a miss (every input new) vs no cache, against the fixed backend."""
        ratios = self.results["ratios"]
        # The cache resolves versions with the model servers' list: the bench host stands in
        # for the model server group, serving half_plus_two version 123 (bench.yml).
        served = {"lighttpd_tfserving_group": "bench", "lighttpd_rate_limit_enabled": False,
                  "tfserving_models": [{"name": "half_plus_two", "version_policy": {"specific": [123]},
                                        "versions": [{"version": 123, "src": "/opt/bench/models/half_plus_two/123"}]}]}
        cached = {"edge_cache_models": [{"model": "half_plus_two"}]}
        standin = [{"host": "127.0.0.1", "port": 8502}]
        fixed = [{"host": "127.0.0.1", "port": 8501}]
        self.converge("stand-in, no cache", lighttpd_inference_backends=standin, **served)
        plain = self.wrk("skewed inputs, no cache, stand-in c64", edge, 64, inputs="skew")
        self.converge("stand-in, cache", lighttpd_inference_backends=standin, **dict(served, **cached))
        hot = self.cached_wrk("skewed inputs, cache, stand-in c64", edge, 64, "skew")
        ratios["cache: skewed inputs, hit ratio"] = hot["hit_ratio"]
        ratios["cache: skewed inputs, rps cache / no cache"] = _ratio(hot["rps"], plain["rps"])
        ratios["cache: skewed inputs, p50 ms no cache -> cache"] = "%s -> %s" % (plain["p50_ms"], hot["p50_ms"])
        ratios["cache: skewed inputs, p99 ms no cache -> cache"] = "%s -> %s" % (plain["p99_ms"], hot["p99_ms"])
        self.converge("fixed backend, cache", lighttpd_inference_backends=fixed, **dict(served, **cached))
        miss = {c: self.cached_wrk("every input new, cache c%d" % c, edge, c, "distinct") for c in (1, 64)}
        self.converge("fixed backend, no cache", lighttpd_inference_backends=fixed, **served)
        none = {c: self.wrk("every input new, no cache c%d" % c, edge, c, inputs="distinct") for c in (1, 64)}
        ratios["cache: a miss adds p50 ms c1"] = round(miss[1]["p50_ms"] - none[1]["p50_ms"], 3)
        ratios["cache: a miss adds p99 ms c1"] = round(miss[1]["p99_ms"] - none[1]["p99_ms"], 3)
        ratios["cache: every input new, rps cache / no cache c64"] = _ratio(miss[64]["rps"], none[64]["rps"])

        # Memory: new inputs until 100,000, with a 4 MiB bound (about 13,000 answers).
        self.converge("fixed backend, cache of 4 MiB", lighttpd_inference_backends=fixed, edge_cache_memory_mb=4,
                      **dict(served, **cached))
        unit = "lighttpd-edge-cache.service"
        sent, rss = 0, [[0, self.memory(unit)]]
        while sent < 100000:
            sent += self.cached_wrk("every input new, 4 MiB cache c64", edge, 64, "distinct")["requests"]
            rss.append([sent, self.memory(unit)])
        stats = self.sh("varnishstat -n /run/lighttpd-edge-cache/varnishd -1 -f SMA.cache.g_bytes -f SMA.cache.g_space"
                        " -f MAIN.n_object -f MAIN.n_lru_nuked")
        stats = {line.split()[0]: int(line.split()[1]) for line in stats.splitlines() if line.strip()}
        self.results["cache_memory"] = {"bound_bytes": 4 * 1048576, "rss_kib_after_requests": rss, "varnishstat": stats}
        print("  RSS KiB of the cache after N new inputs: %s; %s" % (rss, stats), flush=True)
        ratios["cache 4 MiB: distinct inputs sent"] = sent
        ratios["cache 4 MiB: RSS KiB before / after first run / at the end"] = "%d / %d / %d" % (
            rss[0][1], rss[1][1], rss[-1][1])
        ratios["cache 4 MiB: stored bytes / bound"] = _ratio(stats["SMA.cache.g_bytes"], 4 * 1048576)
        ratios["cache 4 MiB: answers kept, evicted"] = "%d, %d" % (stats["MAIN.n_object"], stats["MAIN.n_lru_nuked"])

    # ------------------------------------------------------------------ output
    def write(self):
        with open(os.path.join(self.out, "results.json"), "w") as handle:
            json.dump(self.results, handle, indent=2)
        lines = ["make bench, %s (%s)" % (self.results["machine"]["release"], self.results["machine"]["date"]),
                 "machine: %(cpu)s, %(cpus)s CPUs, kernel %(kernel)s" % self.results["machine"],
                 "versions: %(lighttpd)s; %(nginx)s; %(openssl)s; %(wrk)s; %(h2load)s" % self.results["machine"],
                 "", "%-46s %12s %8s %9s %9s" % ("run", "req/s", "errors", "p50 ms", "p99 ms")]
        for run in self.results["runs"]:
            if "connections_per_gib" in run:
                lines.append("%-46s %12s %8s   %s KiB RSS per connection (connections per GiB)" % (
                    run["name"], run["connections_per_gib"], "-", run["rss_kib_per_connection"]))
            elif "rps" in run:
                lines.append("%-46s %12.0f %8d %9s %9s" % (run["name"], run["rps"], run["errors"],
                                                          _fmt(run.get("p50_ms", run.get("mean_ms"))), _fmt(run.get("p99_ms"))))
            else:
                lines.append("%-46s %12.0f %8s" % (run["name"] + " (connections/s)", run["connections_per_s"], "-"))
        lines += ["", "ratios (same run):"]
        for key, value in self.results["ratios"].items():
            lines.append("  %-56s %s" % (key, value))
        lines += _profile_lines(self.results)
        text = "\n".join(lines) + "\n"
        with open(os.path.join(self.out, "report.txt"), "w") as handle:
            handle.write(text)
        print("\n" + text)
        self.chart()

    def chart(self):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        runs = {r["name"]: r for r in self.results["runs"] if r.get("tool") == "wrk"}
        levels = (1, 64, 256)
        fig, ax = plt.subplots(figsize=(8, 4.5))
        width = 0.27
        for i, who in enumerate(("direct", "edge", "nginx")):
            ax.bar([x + (i - 1) * width for x in range(len(levels))],
                   [runs["%s c%d" % (who, c)]["rps"] for c in levels], width, label=who)
        ax.set_xticks(range(len(levels)))
        ax.set_xticklabels(["%d connections" % c for c in levels])
        ax.set_ylabel("requests/s")
        ax.set_title("Fixed backend, HTTP/1.1 keep-alive, one serving core (%s, %s)"
                     % (self.results["machine"]["os"], self.results["machine"]["date"][:10]))
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(self.out, "serving.png"), dpi=100)


def _ms(out, percentile):
    match = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(percentile), out, re.M)
    if not match:
        return None
    return _duration_ms(match.group(1) + match.group(2))


def _duration_ms(text):
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(match.group(1)), match.group(2)
    return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 3)


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def _fmt(value):
    return "-" if value is None else "%.3f" % value


def _profile_lines(results):
    profile = results.get("profile_c64")
    if not profile:
        return []
    lines = ["", "the edge at 64 connections, share of lighttpd's CPU samples (perf; profile.txt):"]
    lines += ["  %5.1f%%  %s" % (percent, library) for percent, library in profile["by_library"][:8]]
    lines += ["  top functions:"] + ["  %5.1f%%  %s  %s" % tuple(row) for row in profile["top_functions"][:12]]
    return lines


def _cell(run):
    if "connections_per_gib" in run:
        return "%s KiB" % run["rss_kib_per_connection"]
    if "rps" in run:
        p99 = run.get("p99_ms")
        return "%.0f/s%s" % (run["rps"], "" if p99 is None else ", p99 %.2f ms" % p99)
    return "%.0f conn/s" % run["connections_per_s"]


def combine(out, releases):
    """OUT/report.txt: every run and ratio of each release's results.json side by side."""
    results = {}
    for release in releases:
        with open(os.path.join(out, release, "results.json")) as handle:
            results[release] = json.load(handle)
    # A run name can repeat within a release (the cache's memory runs): pair the Nth with the Nth.
    runs = {release: {} for release in releases}
    names, keys = [], []
    for release in releases:
        for run in results[release]["runs"]:
            name = (run["name"], sum(1 for n, _ in runs[release] if n == run["name"]))
            runs[release][name] = run
            if name not in names:
                names.append(name)
        keys += [k for k in results[release]["ratios"] if k not in keys]
    width = 30
    lines = ["make bench, serving path, one bench host per release (same machine, one after the other)", ""]
    for release in releases:
        lines.append("%s: %s" % (release, "; ".join(results[release]["machine"][k] for k in ("os", "lighttpd", "nginx", "openssl"))))
    lines += ["", "%-46s " % "run" + " ".join("%-*s" % (width, r) for r in releases)]
    for name in names:
        cells = []
        for release in releases:
            run = runs[release].get(name)
            cells.append("%-*s" % (width, _cell(run) if run else "-"))
        lines.append("%-46s " % name[0] + " ".join(cells))
    lines += ["", "ratios (each within its own release's run):"]
    for key in keys:
        lines.append("  %-56s " % key + " ".join("%-14s" % results[r]["ratios"].get(key, "-") for r in releases))
    for release in releases:
        lines += ["", "%s:" % release] + _profile_lines(results[release])[1:]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "report.txt"), "w") as handle:
        handle.write(text)
    print("\n" + text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host")
    parser.add_argument("--inventory")
    parser.add_argument("--out")
    parser.add_argument("--release", default="debian12", help="the bench host's release, for the report")
    parser.add_argument("--combine", nargs="+", metavar=("OUT", "RELEASE"),
                        help="write OUT/report.txt from OUT/RELEASE/results.json of each release")
    args = parser.parse_args()
    if args.combine:
        combine(args.combine[0], args.combine[1:])
        return 0
    if not (args.host and args.inventory and args.out):
        parser.error("--host, --inventory and --out are required (or --combine)")
    started = time.time()
    bench = Bench(args.host, args.inventory, args.out)
    bench.results["machine"] = {"release": args.release}
    bench.run()
    bench.results["machine"]["measurement_seconds"] = round(time.time() - started)
    bench.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
