"""Memory per idle keep-alive connection of one server process (tests/bench/idle_memory/run.sh).

50 connections are opened and closed first (so the server's pools exist), then COUNT clients
each send one request, read the answer and stay connected; the process's RSS before and after
gives the cost of one idle connection. Usage: hold.py COUNT PID LABEL [--plain]"""
import socket
import ssl
import sys
import time

count, pid, label = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
plain = "--plain" in sys.argv
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: hold\r\nAccept: */*\r\n\r\n"


def rss_kib():
    with open("/proc/%d/status" % pid) as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def connect():
    sock = socket.create_connection(("127.0.0.1", 18443))
    return sock if plain else context.wrap_socket(sock, server_hostname="localhost")


for _ in range(50):
    warm = connect()
    warm.sendall(REQUEST)
    warm.recv(4096)
    warm.close()
time.sleep(1)
before = rss_kib()
held = []
for _ in range(count):
    conn = connect()
    conn.sendall(REQUEST)
    conn.recv(4096)
    held.append(conn)
time.sleep(2)
after = rss_kib()
print("%-44s %6.1f KiB per idle connection (RSS %d -> %d KiB)" % (label, (after - before) / count, before, after))
