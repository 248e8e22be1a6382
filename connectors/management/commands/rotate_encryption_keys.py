"""Re-encrypt every stored secret under the first key of CONNECTORS_ENCRYPTION_KEYS."""

from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError

from connectors.fields import needs_rotation, opens_with_configured_keys, rotate
from connectors.models import Connector, ConnectorToken


@dataclass
class Rotation:
    checked: int = 0  # encrypted values looked at
    rotated: int = 0  # re-encrypted under the current key
    failed: int = 0  # opened, but the re-encrypted value could not be written (kept changing)
    unopenable: int = 0  # no configured key opens them: left exactly as they are


def rotate_all() -> Rotation:
    """Every encrypted value, re-encrypted under the current key where it needs it. Also behind
    `POST /api/encrypted_saved_objects/_rotate_key` (connectors/api/encrypted_saved_objects.py),
    which, as Kibana's rotation, skips what no key opens rather than counting it as failed."""
    result = Rotation()
    for model, field in ((Connector, "secrets_sealed"), (ConnectorToken, "token_sealed")):
        for pk, token in encrypted_rows(model, field):
            result.checked += 1
            try:
                result.rotated += rotate_row(model, field, pk, token)
            except InvalidToken:
                result.unopenable += 1
            except StillChanging:
                result.failed += 1
    return result


class Command(BaseCommand):
    help = "Re-encrypt every connector secret and cached token under the first (current) key."

    def handle(self, *args, **options):
        self._refuse_unless_every_value_opens()
        result = rotate_all()
        self.stdout.write(
            f"Checked {result.checked} encrypted values; {result.rotated} still needed an old key and "
            "were re-encrypted."
        )
        if result.unopenable:
            self.stderr.write(
                f"{result.unopenable} encrypted values open with none of the configured keys and were "
                "left as they are."
            )
        if result.failed:
            self.stderr.write(
                f"{result.failed} encrypted values kept changing while they were rotated; run this again."
            )

    def _refuse_unless_every_value_opens(self) -> None:
        """A wrong key list must stop the command before it writes anything (not an InvalidToken
        traceback halfway through)."""
        unreadable = 0
        for model, field in ((Connector, "secrets_sealed"), (ConnectorToken, "token_sealed")):
            for _pk, token in encrypted_rows(model, field):
                unreadable += not opens_with_configured_keys(token)
        if unreadable:
            raise CommandError(
                f"{unreadable} stored encrypted values open with none of the keys in "
                "CONNECTORS_ENCRYPTION_KEYS; nothing was changed. Put the new key first and keep the "
                "old key after it (comma-separated), then run this again."
            )


MAX_ATTEMPTS = 10
BATCH_SIZE = 500


def encrypted_rows(model, field: str):
    """`(pk, ciphertext)` of every row, read in batches by primary key: no cursor stays open while
    rows are written (on SQLite an open read would make the write fail once another connection
    has written)."""
    last = None
    while True:
        rows = model.objects.exclude(**{field: ""}).order_by("pk")
        if last is not None:
            rows = rows.filter(pk__gt=last)
        batch = list(rows.values_list("pk", field)[:BATCH_SIZE])
        yield from batch
        if len(batch) < BATCH_SIZE:
            return
        last = batch[-1][0]


def rotate_row(model, field: str, pk, token: str) -> bool:
    """Re-encrypt one row's `field` under the current key; True when this call rewrote it.

    Compare-and-swap on the ciphertext read: the UPDATE applies only while the row still holds
    `token`, so a concurrent update (new secrets saved between our read and our write) is never
    overwritten with the old secrets. A row that changed is read again and, if its new ciphertext
    still needs an old key (a process not yet given the new key wrote it), rotated again.
    """
    for _attempt in range(MAX_ATTEMPTS):
        if not needs_rotation(token):
            return False
        swapped = model.objects.filter(pk=pk, **{field: token}).update(**{field: rotate(token)})
        if swapped:
            return True
        token = model.objects.filter(pk=pk).values_list(field, flat=True).first()
        if not token:
            return False  # deleted, or its secrets cleared, meanwhile
    raise StillChanging(
        f"{model.__name__} {pk}: its encrypted value changed {MAX_ATTEMPTS} times during rotation"
    )


class StillChanging(Exception):
    """A row rewritten by others on every attempt: left for the next rotation."""
