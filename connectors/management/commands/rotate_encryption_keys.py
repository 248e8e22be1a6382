"""Re-encrypt every stored secret under the first key of CONNECTORS_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand
from django.db import transaction

from connectors.fields import needs_rotation, rotate
from connectors.models import Connector, ConnectorToken


def rotate_all() -> tuple[int, int]:
    """(encrypted values checked, values re-encrypted); also behind `_rotate_key` (connectors/api/)."""
    total = rotated = 0
    for model, field in ((Connector, "secrets_sealed"), (ConnectorToken, "token_sealed")):
        for pk, token in model.objects.exclude(**{field: ""}).values_list("pk", field).iterator():
            total += 1
            if needs_rotation(token):
                with transaction.atomic():
                    model.objects.filter(pk=pk).update(**{field: rotate(token)})
                rotated += 1
    return total, rotated


class Command(BaseCommand):
    help = "Re-encrypt every connector secret and cached token under the first (current) key."

    def handle(self, *args, **options):
        total, rotated = rotate_all()
        self.stdout.write(
            f"Checked {total} encrypted values; {rotated} still needed an old key and were re-encrypted."
        )
