"""Template helpers for the connectors admin: the header's space switcher, and links that name the
page's space."""

from django import template
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse

from connectors.admin.spaces import in_space, space_access

register = template.Library()


@register.inclusion_tag("admin/connectors/space_switcher.html", takes_context=True)
def space_switcher(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return {"show": False}
    access = space_access(request)
    return {"show": bool(access.readable), "access": access, "spaces": access.readable}


@register.simple_tag(takes_context=True)
def optional_include(context, template_name):
    """Render `template_name` if some module provides it, else nothing: an extension point for other
    areas (e.g. saved objects' Import/Export buttons on the connectors list)."""
    try:
        found = get_template(template_name)
    except TemplateDoesNotExist:
        return ""
    return found.render(context.flatten(), context.get("request"))


@register.simple_tag(takes_context=True)
def space_url(context, view_name, *args, **query):
    """`{% url %}` naming the space this page shows (`?space=`, plus `query`), as its forms do
    (connectors.admin.spaces.in_space): a click after a space switch in another tab still lands on
    this space's object."""
    url = reverse(view_name, args=args)
    space = space_access(context["request"]).space
    if space is None:
        return url
    return in_space(url, space.id, **query)
