"""The one JSON body parser of the API: DRF's, plus the refusal of U+0000 (see `schemas.nul_problem`)."""

import io

from rest_framework import parsers

from connectors.api.errors import BadRequest
from connectors.schemas import nul_problem


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        encoding = ((parser_context or {}).get("encoding") or "utf-8").lower().replace("_", "-")
        # In UTF-8 JSON a NUL can only arrive as the escape `\u0000` (a raw one is not valid JSON):
        # the walk runs only for bodies that hold that text.
        if b"\\u0000" in raw or encoding not in ("utf-8", "utf8"):
            problem = nul_problem(data, "request body")
            if problem is not None:
                raise BadRequest(problem)
        return data
