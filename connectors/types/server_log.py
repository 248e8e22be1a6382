"""`.server-log`: writes the message to the service's own log (no network)."""

import logging
import re

from connectors.base import ConnectorType, ExecutionContext, ExecutionResult
from connectors.exceptions import ConnectorError
from connectors.schemas import Enum, Object, String

logger = logging.getLogger("connectors.server_log")

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
_PYTHON_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}
# Control characters and line/paragraph separators become ';' (tab is kept), as Kibana's withoutControlCharacters.
_CONTROL = re.compile("[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028-\u2029]")


def without_control_characters(text: str) -> str:
    return _CONTROL.sub(";", text)


class ServerLogConnector(ConnectorType):
    type_id = ".server-log"
    name = "Server log"
    description = "Add a message to the service log."
    icon = "list"
    minimum_license = "basic"
    params_schema = Object(
        {
            "message": String(label="Message"),
            "level": Enum(LEVELS, default="info", label="Level"),
        }
    )

    def run(self, ctx: ExecutionContext) -> ExecutionResult:
        message = without_control_characters(ctx.params["message"])
        try:
            logger.log(_PYTHON_LEVELS[ctx.params["level"]], "Server log: %s", message)
        except Exception as exc:  # a broken handler must not crash the run
            raise ConnectorError("error logging message", service_message=str(exc)) from exc
        return ExecutionResult.success()
