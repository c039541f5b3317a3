"""Reads a Prometheus text page on stdin with prometheus_client's own parser (the reference
client library's) and prints what it understood as JSON: each family's type, and every sample
as [name, labels, value]. A page the parser refuses, or a missing parser, exits non-zero."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

types = {}
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    types[family.name] = family.type
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
print(json.dumps({"types": types, "samples": samples}))
