#!/bin/sh
# The shortest CGI script: a header block, a blank line, the body.
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
printf 'Hello from %s, asked for %s with %s\n' "$(uname -s)" "$SCRIPT_NAME" "$REQUEST_METHOD"
