"""Test client of the prediction cache tests (test_35_cache), run inside a test host.

Sends POST {"instances": [x]} to each PATH for each input x, on one keep-alive connection,
and writes one JSON line per answer: time, path, x, status, X-Edge-Cache, body. With --until
it loops over the inputs until that file exists (at most --max-seconds). With --new N it sends N
requests with new inputs (START+1 .. START+N from --inputs START) over --threads connections and
writes only the count of answers per status.
Usage: python3 cache_client.py --url https://edge1 --path P [--path P2] --inputs 1,2,3 [--rounds N]
       [--until FILE --max-seconds S --pause S] [--header 'Name: value'] [--body TEXT] [--gzip] --out FILE
--gzip sends the body's gzip bytes (the same bytes every time; add the Content-Encoding header
with --header to say so).
"""
import argparse
import gzip
import http.client
import json
import os
import ssl
import sys
import threading
import time


def connect(url):
    scheme, address = url.split("://", 1)
    if scheme == "https":
        return http.client.HTTPSConnection(address, context=ssl._create_unverified_context(), timeout=10)
    return http.client.HTTPConnection(address, timeout=10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", action="append", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--until", default="")
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--pause", type=float, default=0)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--body", default="")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--new", type=int, default=0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.new:
        return new_inputs(args)
    inputs = [float(x) for x in args.inputs.split(",")]
    headers = {"Content-Type": "application/json"}
    headers.update(h.split(": ", 1) for h in args.header)
    conn = connect(args.url)
    deadline = time.time() + args.max_seconds
    rounds = 0
    with open(args.out + ".tmp", "w") as out:
        while True:
            for x in inputs:
                for path in args.path:
                    body = args.body or json.dumps({"instances": [x]})
                    if args.gzip:
                        body = gzip.compress(body.encode(), mtime=0)
                    record = {"t": time.time(), "path": path, "x": x}
                    try:
                        conn.request("POST", path, body=body, headers=headers)
                        resp = conn.getresponse()
                        record.update(status=resp.status, cache=resp.getheader("X-Edge-Cache"),
                                      headers={k.lower(): v for k, v in resp.getheaders()},
                                      body=resp.read().decode("utf-8", "replace"))
                    except (OSError, http.client.HTTPException) as err:
                        record.update(status=0, cache=None, body=str(err))
                        conn.close()
                        conn = connect(args.url)
                    out.write(json.dumps(record) + "\n")
                    if args.pause:
                        time.sleep(args.pause)
            rounds += 1
            if args.until:
                if os.path.exists(args.until) or time.time() > deadline:
                    break
            elif rounds >= args.rounds:
                break
    os.rename(args.out + ".tmp", args.out)
    return 0


def new_inputs(args):
    start = int(float(args.inputs))
    numbers = iter(range(start + 1, start + args.new + 1))
    lock = threading.Lock()
    statuses = {}

    def worker():
        conn = connect(args.url)
        while True:
            with lock:
                x = next(numbers, None)
            if x is None:
                return
            try:
                conn.request("POST", args.path[0], body=json.dumps({"instances": [x]}),
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = connect(args.url)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with open(args.out, "w") as out:
        json.dump(statuses, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
