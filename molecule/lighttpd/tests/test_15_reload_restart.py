"""Reloads and restarts of the edge refuse and drop no connection.

Three clients run at once from client1 while lighttpd@edge is reloaded 20 times and
restarted 3 times: new HTTPS connections (one request each), an HTTP/1.1 keep-alive client
and an HTTP/2 client (each one connection for many requests, reconnecting as curl does when
the server closes an idle connection). Every answer must be a 200.
"""
import time

import pytest

from conftest import KeepAliveLoop, RequestLoop, host

EDGE, CLIENT = "edge1", "client1"
URL = "https://edge1/index.html"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"), (EDGE, "lighttpd@edge.socket"))


def main_pid():
    return host(EDGE).check_output("systemctl show -p MainPID --value lighttpd@edge")


def test_reloads_and_restarts_lose_no_connection():
    oneshot = RequestLoop(CLIENT, URL, count=500, interval=0.02, curl_args="-k")
    http1 = KeepAliveLoop(CLIENT, URL, count=500, rate=25, curl_args="-k --http1.1")
    http2 = KeepAliveLoop(CLIENT, URL, count=500, rate=25, curl_args="-k --http2")
    time.sleep(1)
    pid = main_pid()
    for _ in range(20):
        host(EDGE).check_output("systemctl reload lighttpd@edge")
        time.sleep(0.4)
    assert main_pid() == pid, "a reload must keep the main process"
    for _ in range(3):
        host(EDGE).check_output("systemctl restart lighttpd@edge")
        time.sleep(1)
    results = {"new connections": oneshot.results(), "HTTP/1.1 keep-alive": http1.results(),
               "HTTP/2": http2.results()}
    for name, codes in results.items():
        failed = [c for c in codes if c != "200"]
        print("%s: %d requests, %d failed %s" % (name, len(codes), len(failed), sorted(set(failed))))
    for name, codes in results.items():
        assert len(codes) == 500, (name, len(codes))
        assert [c for c in codes if c != "200"] == [], name


def test_a_long_inference_request_survives_a_reload_and_a_restart():
    # 20 s predictions (a slow backend), within the 35 s proxy read timeout: one in flight
    # across a graceful reload, another across a restart (SIGINT: graceful stop).
    url = "https://edge1/v1/models/half_plus_two:predict?delay=20"
    across_reload = RequestLoop(CLIENT, url, count=1, timeout=40, curl_args="-k -d '{}'")
    time.sleep(2)
    host(EDGE).check_output("systemctl reload lighttpd@edge")
    across_restart = RequestLoop(CLIENT, url, count=1, timeout=40, curl_args="-k -d '{}'")
    time.sleep(2)
    host(EDGE).check_output("systemctl restart lighttpd@edge")
    results = across_reload.results() + across_restart.results()
    print("20 s requests across a reload and a restart: %s" % results)
    assert results == ["200", "200"]
