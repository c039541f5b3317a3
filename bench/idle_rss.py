#!/usr/bin/env python3
"""Memory per idle connection: a server's RSS growth (VmRSS in /proc/PID/status) with N idle
connections open, divided by N.

    bench/idle_rss.py BINARY [MODE] [N]

MODE is `silent` (connections that never send a byte, the default), `http1` (each sent one
keep-alive GET and read its answer), `tls` (the same over TLS, `--tls-self-signed`),
`tls-silent` (TCP connections to the TLS server that never send a byte) or `h2` (h2c with
prior knowledge, one request on stream 1, answered). N defaults to 10000. The server
runs as `BINARY -q -b 127.0.0.1 -d DIR --max-connections N+64 0`; everything binds 127.0.0.1.
The script raises its own open-file limit to the hard one (the server raises its own).
It measures 4 s after the last connection was made: an idle HTTP/1 connection rests (gives
back hyper's buffers) one to two seconds after its last request, so that is what is measured.
"""

import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time

REQUEST = b"GET /a.txt HTTP/1.1\r\nHost: bench\r\n\r\n"
BODY = b"hello\n"


def vm_rss(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def read_http1(conn):
    got = b""
    while not got.endswith(BODY):
        chunk = conn.recv(4096)
        if not chunk:
            raise RuntimeError(f"closed after {got!r}")
        got += chunk
    assert got.startswith(b"HTTP/1.1 200"), got


def h2_request(conn):
    """The preface, an empty SETTINGS, and GET /a.txt on stream 1 (HPACK: :method GET,
    :scheme http, :path literal, :authority literal); reads frames until stream 1 ends."""
    path = b"/a.txt"
    block = b"\x82\x86\x04" + bytes([len(path)]) + path + b"\x01\x05bench"
    frame = lambda kind, flags, stream, payload: (
        len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    )
    conn.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 5, 1, block))
    buf = b""
    while True:
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            length, kind, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
            stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            if kind == 4 and not flags & 1:  # the server's SETTINGS: acknowledge it
                conn.sendall(frame(4, 1, 0, b""))
            if stream == 1 and kind in (0, 1) and flags & 1:
                return
            buf = buf[9 + length:]
        chunk = conn.recv(4096)
        if not chunk:
            raise RuntimeError("h2 connection closed")
        buf += chunk


def main():
    binary = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else "silent"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < n + 100:
        sys.exit(f"the hard open-file limit ({hard}) is below {n + 100}")
    root = tempfile.mkdtemp()
    with open(os.path.join(root, "a.txt"), "wb") as f:
        f.write(BODY)
    cmd = [binary, "-q", "-b", "127.0.0.1", "-d", root, "--max-connections", str(n + 64)]
    tls_server = mode.startswith("tls")
    if tls_server:
        cmd.append("--tls-self-signed")
    server = subprocess.Popen(cmd + ["0"], stdout=subprocess.PIPE)
    try:
        port = int(server.stdout.readline().split(b" port ")[1].split()[0])
        if tls_server:
            server.stdout.readline()  # the fingerprint
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

        def connect():
            conn = socket.create_connection(("127.0.0.1", port))
            return context.wrap_socket(conn) if mode == "tls" else conn

        def use(conn):
            if mode == "h2":
                h2_request(conn)
            elif mode not in ("silent", "tls-silent"):
                conn.sendall(REQUEST)
                read_http1(conn)

        # Warm up: the first requests' one-off allocations (the runtime's, the log's) are not
        # the connections' cost.
        for _ in range(50):
            warm = connect()
            use(warm)
            warm.close()
        time.sleep(0.5)
        fds_before, before = open_fds(server.pid), vm_rss(server.pid)
        conns = []
        for _ in range(n):
            conn = connect()
            use(conn)
            conns.append(conn)
        deadline = time.monotonic() + 60
        while open_fds(server.pid) < fds_before + n and time.monotonic() < deadline:
            time.sleep(0.1)
        # Past the rest delay (one to two seconds of quiet, `src/server/rest.rs`).
        time.sleep(4)
        after = vm_rss(server.pid)
        held = open_fds(server.pid) - fds_before
        if held < n:
            sys.exit(f"the server holds {held} of the {n} connections")
        print(
            f"{mode}: {n} idle connections, RSS {before / 2**20:.1f} MiB -> "
            f"{after / 2**20:.1f} MiB: {(after - before) / n:.0f} bytes per connection"
        )
        for conn in conns:
            conn.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
