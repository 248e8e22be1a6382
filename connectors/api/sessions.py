"""Django's database sessions, with the session's row read through SQL built once per thread.

An API call from the admin's session loads its session row on every request; building that SELECT
cost more CPU than running it (docs/benchmarks-actions.md, 2026-12-06). Same table, same format,
same expiry rule as `django.contrib.sessions.backends.db`: existing sessions stay valid.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from connectors.prepared import PreparedGet

_unexpired_session = PreparedGet(
    lambda session_key, now: Session.objects.filter(session_key=session_key, expire_date__gt=now)
)


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        session = None
        if self.session_key:
            session = _unexpired_session(session_key=self.session_key, now=timezone.now())
        if session is None:
            self._session_key = None
        return session
