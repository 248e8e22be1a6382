"""Do the stored secrets open with the configured keys?

A wrong CONNECTORS_ENCRYPTION_KEYS fails every row alike, so a small sample of the most recently
changed connectors tells at once: `serve` prints it at start, `/readyz` answers 503 and
`/api/task_manager/_health` reports `error`, instead of the first run failing hours later. Reading
only: nothing is re-encrypted or overwritten here.
"""

from dataclasses import dataclass

from connectors.fields import opens_with_configured_keys
from connectors.models import Connector

SAMPLE_SIZE = 5


@dataclass(frozen=True)
class SecretsCheck:
    sampled: int
    unreadable: int

    @property
    def ok(self) -> bool:
        return self.unreadable == 0

    @property
    def message(self) -> str:
        if not self.sampled:
            return "no stored secrets yet"
        if self.ok:
            return f"{self.sampled} sampled stored secrets open with CONNECTORS_ENCRYPTION_KEYS"
        return (
            f"CONNECTORS_ENCRYPTION_KEYS does not open the stored secrets: {self.unreadable} of "
            f"{self.sampled} sampled connectors cannot be decrypted, and their runs will fail. Set the "
            "key they were encrypted with (the first key encrypts, every key decrypts); nothing is "
            "re-encrypted or overwritten until then."
        )


def check_stored_secrets(sample_size: int = SAMPLE_SIZE) -> SecretsCheck:
    tokens = list(
        Connector.objects.exclude(secrets_sealed="")
        .order_by("-updated_at")
        .values_list("secrets_sealed", flat=True)[:sample_size]
    )
    unreadable = sum(1 for token in tokens if not opens_with_configured_keys(token))
    return SecretsCheck(sampled=len(tokens), unreadable=unreadable)


def secrets_unreadable(connector) -> bool:
    """For lists: a stored connector whose secrets none of the configured keys opens."""
    token = getattr(connector, "secrets_sealed", "")
    return bool(token) and not opens_with_configured_keys(token)
