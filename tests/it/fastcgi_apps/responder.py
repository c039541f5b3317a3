"""A FastCGI responder (FastCGI specification §3-§6) in Python's standard library, for the tests
that need what php-fpm and flup cannot show or send: it prints a line for each connection it
accepts and for each FCGI_ABORT_REQUEST, and its application writes raw CGI output, header block
included (flup always adds a Status line, PHP a Status and a Content-Type).

Usage: python3 responder.py ADDRESS, with ADDRESS `unix:/path` or `HOST:PORT` (port 0 for any),
next to an `app.py` defining `app(params, stdin, aborted)`: a generator of the bytes to send on
FCGI_STDOUT, given the meta-variables (a dict), the request body, and a threading.Event set when
the request is aborted. Prints `listening on ADDRESS` (with the real port) once it listens.

It serves every connection at once, a thread each. Management records (FCGI_GET_VALUES, §4.1)
go unanswered, as by an application that ignores them, unless `app.py` also defines `VALUES`, a
dict of the names and values to answer with (`{"FCGI_MAX_CONNS": "2"}`); each query is then
printed as `asked: NAME,NAME,...`.
"""

import socket
import struct
import sys
import threading

import app as application
from app import app

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 2, 3, 4, 5, 6
GET_VALUES, GET_VALUES_RESULT = 9, 10
VALUES = getattr(application, "VALUES", None)
# version, type, request id, content length, padding length, reserved (§3.3)
HEADER = struct.Struct(">BBHHBx")
MAX_CONTENT = 0xFFFF


SAY = threading.Lock()


def say(line):
    """One whole line on stdout: connections run on threads, and `print` writes a line's text
    and its newline apart, so two threads' lines could run together ("abortedaborted")."""
    with SAY:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def read_record(conn):
    """The next record as (type, request id, content); None at the end of the connection."""
    try:
        head = conn.recv(HEADER.size, socket.MSG_WAITALL)
        if len(head) < HEADER.size:
            return None
        _, kind, request_id, length, padding = HEADER.unpack(head)
        body = conn.recv(length + padding, socket.MSG_WAITALL) if length + padding else b""
    except OSError:
        return None
    return kind, request_id, body[:length]


def write_record(conn, kind, request_id, content=b""):
    conn.sendall(HEADER.pack(1, kind, request_id, len(content), 0) + content)


def pairs(data):
    """FCGI_PARAMS' name-value pairs (§3.4) as a dict of strings."""
    found, at = {}, 0
    while at < len(data):
        lengths = []
        for _ in range(2):
            if data[at] >> 7:
                lengths.append(struct.unpack_from(">I", data, at)[0] & 0x7FFFFFFF)
                at += 4
            else:
                lengths.append(data[at])
                at += 1
        name_end = at + lengths[0]
        value = data[name_end : name_end + lengths[1]]
        found[data[at:name_end].decode()] = value.decode("latin-1")
        at = name_end + lengths[1]
    return found


def encode_pairs(found):
    """Name-value pairs (§3.4), every length below 128 here."""
    return b"".join(
        bytes([len(n), len(v)]) + n + v
        for n, v in ((n.encode(), v.encode()) for n, v in found.items())
    )


def answer_values(conn, content):
    """FCGI_GET_VALUES_RESULT with the values asked for that VALUES has (§4.1)."""
    asked = pairs(content)
    say("asked: " + ",".join(asked))
    write_record(conn, GET_VALUES_RESULT, 0, encode_pairs({n: VALUES[n] for n in asked if n in VALUES}))


def respond(conn, request_id, params, stdin, aborted):
    for chunk in app(pairs(params), stdin, aborted):
        for start in range(0, len(chunk), MAX_CONTENT):
            write_record(conn, STDOUT, request_id, chunk[start : start + MAX_CONTENT])
    write_record(conn, STDOUT, request_id)
    write_record(conn, END_REQUEST, request_id, struct.pack(">IB3x", 0, 0))


def serve(conn):
    """Reads the connection's records; each request runs in a thread of its own, so that an
    FCGI_ABORT_REQUEST is read while the application answers."""
    worker = None
    while (record := read_record(conn)) is not None:
        kind, request_id, content = record
        if kind == BEGIN_REQUEST:
            params, stdin, aborted = b"", b"", threading.Event()
        elif kind == PARAMS:
            params += content
        elif kind == STDIN and content:
            stdin += content
        elif kind == STDIN:
            worker = threading.Thread(
                target=respond, args=(conn, request_id, params, stdin, aborted)
            )
            worker.start()
        elif kind == ABORT_REQUEST:
            say("aborted")
            aborted.set()
        elif kind == GET_VALUES and VALUES is not None:
            answer_values(conn, content)
    if worker is not None:
        worker.join()
    conn.close()


def peer_closed(conn):
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main():
    address = sys.argv[1]
    if address.startswith("unix:"):
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(address[len("unix:") :])
    else:
        host, port = address.rsplit(":", 1)
        listener = socket.socket()
        listener.bind((host, int(port)))
        address = "%s:%d" % listener.getsockname()
    listener.listen(64)
    say(f"listening on {address}")
    connections = []
    while True:
        conn, _ = listener.accept()
        # The server closes a connection before it opens another in its place, but this
        # connection's thread may not have read that end yet: the socket itself is asked.
        connections = [c for c in connections if not peer_closed(c)]
        connections.append(conn)
        say(f"open connections: {len(connections)}")
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
