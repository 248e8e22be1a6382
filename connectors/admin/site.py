"""The admin site: staff as usual, plus any active user granted a connectors privilege in some space
(Kibana's `read`/`all` on "Actions and Connectors" is what opens Stack Management > Connectors).
Such a user sees only what their privileges allow; Django model permissions still guard the rest."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import Q


def has_connectors_privilege(user) -> bool:
    from connectors.models import SpacePrivilege

    if not (user and user.is_active and user.is_authenticated):
        return False
    return SpacePrivilege.objects.filter(Q(user=user) | Q(group__in=user.groups.all())).exists()


class ConnectorsAuthenticationForm(AdminAuthenticationForm):
    # Django's says "for a staff account"; people here sign in with a connectors privilege too.
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": "Please enter the correct %(username)s and password. Both fields may be case-sensitive.",
    }

    def clean(self):
        # Login rate limiting (connectors/login_limits.py): a locked-out username is refused unchecked.
        from connectors import login_limits

        username = self.cleaned_data.get("username") or ""
        lockout = login_limits.check(self.request, username)
        if lockout is not None:
            raise ValidationError(lockout.message, code="locked_out")
        try:
            cleaned = super().clean()
        except ValidationError as exc:
            if getattr(exc, "code", None) == "invalid_login":
                lockout = login_limits.record_failure(self.request, username)
                if lockout is not None:
                    raise ValidationError(lockout.message, code="locked_out") from None
            raise
        login_limits.record_success(self.request, username)
        return cleaned

    def confirm_login_allowed(self, user):
        if not user.is_active:
            raise ValidationError(self.error_messages["inactive"], code="inactive")
        if not (user.is_staff or has_connectors_privilege(user)):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class ConnectorsAdminSite(admin.AdminSite):
    site_header = "Connectors"
    site_title = "Connectors"
    index_title = "Stack Management"
    login_form = ConnectorsAuthenticationForm
    site_url = None  # there is no public site: hide "View site"

    def has_permission(self, request):
        user = request.user
        return bool(user.is_active and (user.is_staff or has_connectors_privilege(user)))

    index_template = "admin/connectors/home.html"

    def index(self, request, extra_context=None):
        """A dashboard, not Django's app index: failing connectors and recent failed runs in the
        spaces the user may read, the queue and the workers, and links to the main tasks. Django's
        app list (django-q2's task tables and the like) is shown under "System" to superusers only."""
        return super().index(request, extra_context={**home_context(request), **(extra_context or {})})


_site: ConnectorsAdminSite | None = None


def default_site() -> ConnectorsAdminSite:
    """`admin.site` (named by `connectors.apps.ConnectorsAdminConfig.default_site`): one instance,
    however often Django asks. Importing this module imports the `connectors.admin` package first,
    whose ModelAdmins register on `admin.site` while Django is still building it, so Django asks
    twice; with a class it would build two sites and keep the one without the registrations."""
    global _site
    if _site is None:
        _site = ConnectorsAdminSite()
    return _site


def home_context(request) -> dict:
    from connectors import extensions, privileges
    from connectors.models import Connector, Space

    space_ids = privileges.readable_space_ids(request.user)
    failing = list(
        Connector.objects.filter(space_id__in=space_ids, last_outcome="failure")
        .select_related("space")
        .order_by("-last_run_at")[:8]
    )
    # Runs of the spaces the user may read only (an id may have been another space's once).
    failures = extensions.failures_last_24h([c.id for c in failing], space_ids=space_ids) if failing else {}
    for connector in failing:
        connector.failures_24h = failures.get(connector.id, 0)
    return {
        "home_spaces": Space.objects.filter(id__in=space_ids).order_by("name"),
        "home_connector_count": Connector.objects.filter(space_id__in=space_ids).count(),
        "home_failing": failing,
        "home_failing_total": Connector.objects.filter(
            space_id__in=space_ids, last_outcome="failure"
        ).count(),
        **extensions.admin_home(request, space_ids),
    }
