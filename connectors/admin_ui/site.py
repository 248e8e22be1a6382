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
