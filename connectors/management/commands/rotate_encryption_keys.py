"""Re-encrypt every stored secret under the first key of CONNECTORS_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connectors.fields import needs_rotation, opens_with_configured_keys, rotate
from connectors.models import Connector, ConnectorToken


class Command(BaseCommand):
    help = "Re-encrypt every connector secret and cached token under the first (current) key."

    def handle(self, *args, **options):
        self._refuse_unless_every_value_opens()
        total = rotated = 0
        for model, field in ((Connector, "secrets_sealed"), (ConnectorToken, "token_sealed")):
            for pk, token in model.objects.exclude(**{field: ""}).values_list("pk", field).iterator():
                total += 1
                if needs_rotation(token):
                    with transaction.atomic():
                        model.objects.filter(pk=pk).update(**{field: rotate(token)})
                    rotated += 1
        self.stdout.write(
            f"Checked {total} encrypted values; {rotated} still needed an old key and were re-encrypted."
        )

    def _refuse_unless_every_value_opens(self) -> None:
        """A wrong key list must stop the command before it writes anything (not an InvalidToken
        traceback halfway through)."""
        unreadable = 0
        for model, field in ((Connector, "secrets_sealed"), (ConnectorToken, "token_sealed")):
            for token in model.objects.exclude(**{field: ""}).values_list(field, flat=True).iterator():
                unreadable += not opens_with_configured_keys(token)
        if unreadable:
            raise CommandError(
                f"{unreadable} stored encrypted values open with none of the keys in "
                "CONNECTORS_ENCRYPTION_KEYS; nothing was changed. Put the new key first and keep the "
                "old key after it (comma-separated), then run this again."
            )
