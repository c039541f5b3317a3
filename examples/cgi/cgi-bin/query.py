#!/usr/bin/env python3
"""A GET query page: /cgi-bin/query.py?q=words lists the words it was given."""

import html
import os
from urllib.parse import parse_qs

query = parse_qs(os.environ.get("QUERY_STRING", ""))
words = query.get("q", [""])[0].split()
items = "".join(f"<li>{html.escape(w)}</li>" for w in words)
print("Content-Type: text/html; charset=utf-8")
print()
print(f"<!DOCTYPE html><title>Query</title><p>{len(words)} word(s)</p><ul>{items}</ul>")
print('<form><input name="q"><button>Search</button></form>')
