"""Template helpers for the connectors admin: the header's space switcher."""

from django import template

from connectors.admin_ui.spaces import space_access

register = template.Library()


@register.inclusion_tag("admin/connectors/space_switcher.html", takes_context=True)
def space_switcher(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return {"show": False}
    access = space_access(request)
    return {"show": bool(access.readable), "access": access, "spaces": access.readable}
