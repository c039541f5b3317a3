"""Checks serveur's folder archives and JSON listing against the tree on disk.

Usage: check.py BASE_URL SITE DIR MODE [AUTH]
  MODE zip|tar.gz: the archive of DIR, read with zipfile/tarfile and extracted with
  unzip/tar, must equal the tree (symlinks out of the root and to directories left out).
  MODE json: DIR's JSON listing must name each entry with its type and size.
Prints "ok" and exits 0, or raises.
"""
import base64, json, os, subprocess, sys, tarfile, tempfile, urllib.request, zipfile, io

base, site, folder, mode = sys.argv[1:5]
auth = sys.argv[5] if len(sys.argv) > 5 else None
root = os.path.realpath(os.fsencode(site))


def fetch(query):
    request = urllib.request.Request(base + urllib.request.quote(folder) + query)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=60) as reply:
        return reply.headers, reply.read()


def tree(d, top, rel=b""):
    """{relative path: bytes, or None for a directory}, as serveur archives it."""
    out = {}
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        r = rel + b"/" + name if rel else name
        if os.path.islink(path):
            real = os.path.realpath(path)
            if not real.startswith(top + b"/") or os.path.isdir(path):
                continue
        if os.path.isdir(path):
            out[r] = None
            out.update(tree(path, top, r))
        elif os.path.isfile(path):
            with open(path, "rb") as f:
                out[r] = f.read()
    return out


def zip_name(path):
    """A path as serveur names it in a ZIP: `%`, `\\`, control characters and each byte that is
    not UTF-8 percent-encoded, the rest as UTF-8."""
    out = []
    for ch in path.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append("%%%02X" % (o - 0xDC00))
        elif ch in "%\\" or o < 0x20 or o == 0x7F:
            out.append("%%%02X" % o)
        else:
            out.append(ch)
    return "".join(out).encode()


def zip_names(tree):
    return {zip_name(k): v for k, v in tree.items()}


source = os.path.join(root, os.fsencode(folder.strip("/")))
expected = tree(source, root)
name = os.path.basename(source.rstrip(b"/"))
assert expected, "an empty tree proves nothing"

if mode == "json":
    headers, body = fetch("?format=json")
    assert headers["Content-Type"] == "application/json", headers
    listing = json.loads(body)
    on_disk = sorted(os.listdir(source))
    want = {n.decode("utf-8", "replace") for n in on_disk}
    got = {e["name"] for e in listing}
    if auth is None and os.environ.get("HIDDEN"):
        want -= {os.environ["HIDDEN"]}
    assert got == want, (got ^ want)
    for entry in listing:
        path = os.path.join(source, entry["name"].encode())
        if os.path.islink(path):
            assert entry["type"] == "symlink" and "size" not in entry, entry
        elif os.path.isdir(path):
            assert entry["type"] == "directory" and "size" not in entry, entry
        elif os.path.exists(path):
            assert entry["type"] == "file" and entry["size"] == os.path.getsize(path), entry
        assert entry["mtime"].endswith(" GMT"), entry
    print("ok")
    sys.exit(0)

headers, body = fetch("?download=" + mode)
disposition = headers["Content-Disposition"]
assert disposition.startswith("attachment; filename=\""), disposition
hidden = os.environ.get("HIDDEN")
if hidden:
    expected = {k: v for k, v in expected.items() if k.split(b"/")[0] != hidden.encode()}
read = {}
if mode == "zip":
    assert headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        assert z.testzip() is None
        for info in z.infolist():
            n = info.filename
            assert not n.startswith("/") and ".." not in n.split("/"), n
            n = n.rstrip("/").encode()
            read[n] = None if info.is_dir() else z.read(info)
    want = zip_names({name + b"/" + k: v for k, v in expected.items()})
    want[zip_name(name)] = None
    read.setdefault(zip_name(name), None)
    assert read == want, [k for k in want if read.get(k, 1) != want[k]]
else:
    assert headers["Content-Type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as t:
        for member in t.getmembers():
            n = os.fsencode(member.name)
            assert not n.startswith(b"/") and b".." not in n.split(b"/"), n
            assert member.isdir() or member.isfile(), member
            read[n] = None if member.isdir() else t.extractfile(member).read()
    want = {name + b"/" + k: v for k, v in expected.items()}
    assert read == want, [k for k in want if read.get(k, 1) != want[k]]

# The command-line tools extract the same tree.
with tempfile.TemporaryDirectory() as out:
    archive = os.path.join(out, "a." + mode)
    with open(archive, "wb") as f:
        f.write(body)
    into = os.path.join(out, "x")
    os.mkdir(into)
    if mode == "zip":
        subprocess.run(["unzip", "-q", archive, "-d", into], check=True)
        expect = zip_names(expected)
        top = zip_name(name)
    else:
        subprocess.run(["tar", "xzf", archive, "-C", into], check=True)
        expect = expected
        top = name
    x = os.fsencode(into)
    assert os.listdir(x) == [top], os.listdir(x)
    got = tree(os.path.join(x, top), os.path.realpath(x))
    assert got == expect, sorted(set(got) ^ set(expect))
print("ok")
