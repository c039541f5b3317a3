#!/usr/bin/env python3
"""The tutorial's form page: a form that POSTs a name to this same page, which greets it.

Run it with `serveur --cgi --cgi-dir /` from this directory and open http://localhost:8000/.
Forms are parsed with urllib.parse (Python 3.13 removed the `cgi` module).
"""

import html
import os
import sys
from urllib.parse import parse_qs

name = ""
if os.environ.get("REQUEST_METHOD") == "POST":
    length = int(os.environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(sys.stdin.buffer.read(length).decode("utf-8", "replace"))
    name = form.get("name", [""])[0].strip()

greeting = f"<p>Bonjour, {html.escape(name)} !</p>" if name else ""
page = f"""<!DOCTYPE html>
<html lang="fr">
<head><meta charset="utf-8"><title>Bonjour</title></head>
<body>
<h1>Comment vous appelez-vous ?</h1>
{greeting}
<form method="post">
  <label>Nom : <input name="name" value="{html.escape(name)}"></label>
  <button>Envoyer</button>
</form>
</body>
</html>
"""
body = page.encode("utf-8")
sys.stdout.write("Content-Type: text/html; charset=utf-8\r\n")
sys.stdout.write(f"Content-Length: {len(body)}\r\n\r\n")
sys.stdout.flush()
sys.stdout.buffer.write(body)
