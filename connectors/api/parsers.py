"""The one JSON body parser of the API: DRF's, plus the refusal of U+0000 and lone surrogates (see
`schemas.unstorable_problem`)."""

import io

from rest_framework import parsers

from connectors.api.errors import BadRequest
from connectors.schemas import may_hold_unstorable, unstorable_problem


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        encoding = ((parser_context or {}).get("encoding") or "utf-8").lower().replace("_", "-")
        # In UTF-8 JSON a NUL or a lone surrogate can only arrive as an escape (`\u0000`, `\ud800`):
        # the walk runs only for bodies that hold one.
        if may_hold_unstorable(raw) or encoding not in ("utf-8", "utf8"):
            problem = unstorable_problem(data, "request body")
            if problem is not None:
                raise BadRequest(problem)
        return data
