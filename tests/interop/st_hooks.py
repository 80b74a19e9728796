"""Data-generation hooks for the bounded schemathesis run (tests/interop/schemathesis.sh).

They state the one rule of the request schemas that JSON Schema cannot: a node's
`valid_to` is not before its `valid_from` (the service answers `import.invalid_record`
otherwise; a Rust test covers that rejection). Generated bodies that break it are
made to keep it by swapping the two times, so that every other part of the body is
still fuzzed.
"""

from datetime import datetime

import schemathesis


def _time(value):
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@schemathesis.hook
def map_body(ctx, body):
    operation = getattr(ctx, "operation", None)
    path = getattr(operation, "path", "") or ""
    if not path.endswith("/node.upsert") or not isinstance(body, dict):
        return body
    node = body.get("node")
    if not isinstance(node, dict):
        return body
    start, end = _time(node.get("valid_from")), _time(node.get("valid_to"))
    if start is not None and end is not None and end < start:
        node["valid_from"], node["valid_to"] = node["valid_to"], node["valid_from"]
    return body
