"""One error family for everything a connector run can hit.

The seam (`connectors.http`) maps library errors into these; types raise only these; the executor
turns them into Kibana-shaped results. Messages use Kibana's wording, and never contain secrets.
"""

from datetime import datetime

# Kibana's framework message when an executor throws.
UNEXPECTED_ERROR_MESSAGE = "an error occurred while running the action"


class ConnectorError(Exception):
    """A failed run: `message` is Kibana's sentence, `service_message` the remote service's detail."""

    retry: bool | datetime | None = False
    error_source = "framework"

    def __init__(
        self,
        message: str,
        *,
        service_message: str | None = None,
        status_code: int | None = None,
        retry: bool | datetime | None = None,
        error_source: str | None = None,
        data=None,
    ):
        super().__init__(message)
        self.message = message
        self.service_message = service_message
        self.status_code = status_code
        self.data = data
        if retry is not None:
            self.retry = retry
        if error_source is not None:
            self.error_source = error_source

    def __str__(self) -> str:
        if self.service_message:
            return f"{self.message}: {self.service_message}"
        return self.message


class ConnectorTimeout(ConnectorError):
    """The remote service did not answer within xpack.actions.responseTimeout."""

    retry = True


class ConnectorUnreachable(ConnectorError):
    """No connection: refused, reset, DNS failure, TLS failure."""

    retry = True


class EgressDenied(ConnectorError):
    """The target is not in allowedHosts, or resolves to a non-public address."""

    retry = False
    error_source = "user"


class ResponseTooLarge(ConnectorError):
    retry = False


class ConfigurationError(ConnectorError):
    """Config, secrets or params fail validation. `message` is the whole Kibana sentence."""

    retry = False
    error_source = "user"


class SecretsUnreadable(ConnectorError):
    """Stored secrets cannot be decrypted (wrong key) or belong to another connector."""

    retry = False
    error_source = "framework"


class UnknownConnectorType(Exception):
    def __init__(self, type_id: str):
        super().__init__(f'Action type "{type_id}" is not registered.')
        self.type_id = type_id


class AlreadyRegistered(Exception):
    pass


class ActionTypeDisabled(ConnectorError):
    """The type is not in xpack.actions.enabledActionTypes."""

    retry = False
    error_source = "user"

    def __init__(self, type_id: str):
        super().__init__(
            f'action type "{type_id}" is not enabled in the Kibana config xpack.actions.enabledActionTypes'
        )
        self.type_id = type_id
