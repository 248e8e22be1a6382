"""Kibana's `POST /api/encrypted_saved_objects/_rotate_key`: re-encrypt stored secrets under the
primary key, backed by the `rotate_encryption_keys` command's `rotate_all()`.

- Superusers only (Kibana's reserved `superuser` privilege); not space-scoped (all spaces), though the
  route answers under `/s/{space}` too, as Kibana's does.
- 400 when only one key is configured (nothing to rotate from): Kibana's message, which names its own
  setting; ours is the second and later entries of CONNECTORS_ENCRYPTION_KEYS.
- 429 while a rotation runs in this process, as Kibana's per-instance guard.
- `batch_size` is validated as Kibana does but not used: rows are re-encrypted one at a time.
- As Kibana's, values no configured key opens are skipped (left as they are, not `failed`); `failed`
  counts values opened whose re-encryption could not be written (they kept changing meanwhile).
- `type`: `action` (connectors and their cached tokens) is the only type with encrypted attributes
  here; any other type answers `{total: 0, successful: 0, failed: 0}`, as an unregistered one in Kibana.
"""

import threading

from django.conf import settings
from rest_framework.response import Response

from connectors.api import openapi as oas
from connectors.api.base import KibanaView, api_unauthorized, refuse_unknown_query_keys
from connectors.api.errors import BadRequest, KibanaError
from connectors.management.commands.rotate_encryption_keys import rotate_all

MAX_BATCH_SIZE = 10000
ENCRYPTED_TYPES = ("action",)
NOT_CONFIGURED = (
    "Kibana is not configured to support encryption key rotation. Update `kibana.yml` to include "
    "`xpack.encryptedSavedObjects.keyRotation.decryptionOnlyKeys` to rotate your encryption keys."
)
IN_PROGRESS = (
    "Encryption key rotation is in progress already. Please wait until it is completed and try again."
)

_rotation_lock = threading.Lock()


def _batch_size(params) -> int:
    raw = params.get("batch_size")
    if raw is None:
        return MAX_BATCH_SIZE
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(
            "[request query.batch_size]: expected value of type [number] but got [string]"
        ) from None
    if value < 1:
        raise BadRequest("[request query.batch_size]: Value must be equal to or greater than [1].")
    if value > MAX_BATCH_SIZE:
        raise BadRequest(
            f"[request query.batch_size]: Value must be equal to or lower than [{MAX_BATCH_SIZE}]."
        )
    return int(value)


class RotateKeyView(KibanaView):
    needs_space = False

    @oas.operation(
        "Rotate the encryption key of stored secrets (superusers)",
        response={
            "type": "object",
            "properties": {n: {"type": "integer"} for n in ("total", "successful", "failed")},
        },
        error_codes=(400, 403, 429),
        xsrf=True,
        parameters=[oas.OpenApiParameter("batch_size", int), oas.OpenApiParameter("type", str)],
    )
    def post(self, request):
        # Kibana authorizes the route (onPostAuth) before it validates the query.
        if not request.user.is_superuser:
            raise api_unauthorized(request, "superuser")
        refuse_unknown_query_keys(request.query_params, {"batch_size", "type"})
        _batch_size(request.query_params)
        if len(settings.FIELD_ENCRYPTION_KEY) < 2:
            raise BadRequest(NOT_CONFIGURED)
        object_type = request.query_params.get("type")
        if object_type is not None and object_type not in ENCRYPTED_TYPES:
            return Response({"total": 0, "successful": 0, "failed": 0})
        if not _rotation_lock.acquire(blocking=False):
            raise KibanaError(IN_PROGRESS, 429)
        try:
            result = rotate_all()
        finally:
            _rotation_lock.release()
        return Response({"total": result.checked, "successful": result.rotated, "failed": result.failed})
