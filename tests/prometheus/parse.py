"""Parses Prometheus text (stdin) with the reference Python client's parser and prints
the families as JSON (stdout): {name: {"type": ..., "samples": [[name, labels, value]]}}.

An outside parser, so a test that passes says Prometheus itself would accept the text.
Needs the `prometheus-client` package (scripts/test.sh installs it in target/promvenv).
"""

import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    if family.name in families:
        sys.exit(f"family {family.name} appears twice")
    families[family.name] = {
        "type": family.type,
        "help": family.documentation,
        "samples": [
            [s.name, s.labels, None if math.isinf(s.value) else s.value]
            for s in family.samples
        ],
    }
json.dump(families, sys.stdout)
