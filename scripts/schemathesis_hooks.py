"""Schemathesis hooks for scripts/schemathesis.sh (named by `hooks` in scripts/schemathesis.toml).

`cursor` is opaque (openapi.yaml, `components.parameters.Cursor`): the only valid values are the
`next_cursor` strings the server issued for the same list, and any other value is rightly
answered 400 `invalid_cursor` (tests/tests/issues.rs, patterns.rs and connectors.rs check that).
No JSON Schema can describe "a value this server issued", so a generated cursor is never a valid
one: these hooks send a cursor only when the server issued it, and drop any other.
"""

import schemathesis

ISSUED = set()


@schemathesis.hook
def after_call(ctx, case, response):
    try:
        body = response.json()
    except Exception:
        return
    if isinstance(body, dict) and isinstance(body.get("next_cursor"), str):
        ISSUED.add(body["next_cursor"])


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    query = case.query
    if isinstance(query, dict) and "cursor" in query and query["cursor"] not in ISSUED:
        del query["cursor"]
