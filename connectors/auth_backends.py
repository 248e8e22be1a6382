"""Django's ModelBackend, with the session's user row read through SQL built once per thread.

Every request with a session cookie (the admin, and API calls made from a browser) asks the backend
for its user: Django's `ModelBackend.get_user` builds `User.objects.get(pk=...)`'s SQL each time, a
third of such an `_enqueue` request's CPU (docs/benchmarks-actions.md). Authentication, permissions
and Django's own checks around `get_user` (the backend path, the session's password hash) are
Django's, unchanged.
"""

from __future__ import annotations

from django.contrib.auth import backends, get_user_model
from django.core.exceptions import ValidationError

from connectors.prepared import PreparedGet

_active_user_by_pk = PreparedGet(lambda pk: get_user_model()._default_manager.filter(pk=pk, is_active=True))


def active_user(pk: int):
    """The active user with this primary key, or None: the one lookup of a user row per request, for
    sessions here and for the Basic cache (connectors/api/authentication.py)."""
    return _active_user_by_pk(pk=pk)


class ModelBackend(backends.ModelBackend):
    def get_user(self, user_id):
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:
            return None  # Django's would raise on an id that is not one: no such user either way
        user = active_user(pk)
        return user if user is not None and self.user_can_authenticate(user) else None
