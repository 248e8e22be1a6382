"""The pages of Stack Management > Connectors. Every write goes through `connectors.services` and
every run through `actions.services.execute`, so the admin obeys the same rules as the API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.db.models.functions import Lower
from django.forms.utils import ErrorDict, ErrorList
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from connectors import extensions, registry
from connectors.access import AccessDenied, allows, connector_for, connectors_for
from connectors.admin import forms as schema_forms
from connectors.admin.icons import icon_url
from connectors.admin.middleware import too_large_message
from connectors.admin.saved_objects import export_selection_url
from connectors.admin.spaces import here_in_space, space_access
from connectors.api.views import is_connector_deprecated
from connectors.base import ConnectorType, ExecutionResult
from connectors.conf import get_config
from connectors.db_functions import CodePointOrder, ContainsLowered
from connectors.exceptions import (
    ActionTypeDisabled,
    ConfigurationError,
    SecretsUnreadable,
    UnknownConnectorType,
)
from connectors.models import Connector
from connectors.preconfigured import preconfigured_connectors
from connectors.schemas import MISSING, SchemaError
from connectors.secrets_check import secrets_unreadable
from connectors.services import (
    ConnectorConflict,
    ConnectorNotFound,
    PreconfiguredConflict,
    create_connector,
    delete_connector,
    referenced_by_counts,
    update_connector,
)

PAGE_SIZE = 50
SEARCH_READ_AT_ONCE = 1000
SORT_KEYS = ("name", "type", "rules", "last_run", "outcome")
COLUMNS = [
    ("name", "Name"),
    ("type", "Type"),
    ("space", "Space"),
    ("rules", "Used by"),
    ("last_run", "Last run"),
    ("outcome", "Last outcome"),
    ("failures", "Failures (24 h)"),
]


# ---- helpers ------------------------------------------------------------------------------------


@dataclass
class TypeInfo:
    type_id: str
    name: str
    description: str
    icon: str
    registered: bool
    enabled: bool

    @classmethod
    def of(cls, type_id: str) -> TypeInfo:
        if registry.is_registered(type_id):
            t = registry.get(type_id)
            return cls(
                type_id,
                t.name,
                t.description,
                icon_url(type_id, t.icon),
                True,
                registry.is_enabled_in_config(type_id, get_config()),
            )
        return cls(type_id, type_id, "This connector type is not available.", icon_url(type_id), False, False)


@dataclass
class Row:
    connector: Connector
    type: TypeInfo
    used_by: int
    deprecated: bool
    failures_24h: int = 0
    secrets_unreadable: bool = False  # a wrong CONNECTORS_ENCRYPTION_KEYS (connectors.secrets_check)

    @property
    def type_name(self) -> str:
        return self.type.name


def _context(request, model_admin, title: str, **extra) -> dict:
    access = space_access(request)
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": Connector._meta,
        "access": access,
        "space": access.space,
        "can_write": access.can_write,
        **extra,
    }


def _render(request, template: str, context: dict, status: int = 200) -> TemplateResponse:
    return TemplateResponse(request, f"admin/connectors/connector/{template}", context, status=status)


def _refusal_message(access, need: str) -> str:
    if not access.can_read:
        return "You have no access to connectors in any space."
    return f"You may only read connectors in the space “{access.space.name}”."


def _require(request, need: str):
    """For pages on no one connector (list, add): 403 unless the space privilege allows `need`."""
    access = space_access(request)
    if access.space is None or not allows(access.privilege, need):
        raise PermissionDenied(_refusal_message(access, need))
    return access


def _connector(request, connector_id: str, need: str):
    """The current space's connector, if the user's privilege there allows `need` (`read` or `all`):
    the only way these pages get a connector (connectors.access.connector_for). 403 comes before 404,
    so nobody learns which ids exist in a space they may not use."""
    access = space_access(request)
    space_id = access.space.id if access.space is not None else None
    try:
        return access, connector_for(access.privilege, connector_id, space_id=space_id, need=need)
    except AccessDenied:
        raise PermissionDenied(_refusal_message(access, need)) from None
    except ConnectorNotFound:
        raise Http404(f"No connector {connector_id} in the space “{access.space.name}”.") from None


def _connectors(request, connector_ids, need: str):
    """The current space's connectors among `connector_ids`, if the privilege allows `need`."""
    access = space_access(request)
    space_id = access.space.id if access.space is not None else None
    try:
        return access, connectors_for(access.privilege, connector_ids, space_id=space_id, need=need)
    except AccessDenied:
        raise PermissionDenied(_refusal_message(access, need)) from None


def _url(name: str, *args, **query) -> str:
    url = reverse(f"admin:connectors_connector_{name}", args=args)
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


def _user(request) -> str:
    return request.user.get_username()


def _stored_secrets(connector: Connector) -> dict:
    if connector.is_missing_secrets:
        return {}
    try:
        return connector.get_secrets()
    except SecretsUnreadable:
        return {}


def _type_or_404(type_id: str) -> ConnectorType:
    try:
        return registry.get(type_id)
    except UnknownConnectorType:
        raise Http404(f'Connector type "{type_id}" is not registered.') from None


def refusal(request, model_admin, exc: Exception) -> TemplateResponse:
    """403 and 404 as admin pages (header, space switcher, favicon) with the reason in words."""
    forbidden = isinstance(exc, PermissionDenied)
    title = "You cannot do this here" if forbidden else "Not found"
    reason = (
        str(exc) if exc.args else ("Your privilege in this space does not allow it." if forbidden else "")
    )
    context = _context(request, model_admin, title, reason=reason, forbidden=forbidden)
    return _render(request, "refusal.html", context, status=403 if forbidden else 404)


# ---- the list -------------------------------------------------------------------------------------


def _matches(connector: Connector, type_info: TypeInfo, query: str, type_filter: str) -> bool:
    if type_filter and connector.connector_type_id != type_filter:
        return False
    if not query:
        return True
    query = query.lower()
    return any(
        query in text.lower() for text in (connector.name, connector.connector_type_id, type_info.name)
    )


def list_query(**values: str) -> str:
    """The list's query string: its space first, then the filters and sort that are set."""
    return urlencode({key: value for key, value in values.items() if value})


def _searched(connectors, types: dict[str, TypeInfo], query: str):
    """`_matches`'s search in SQL: the name contains the query (case-insensitively, as Python
    lowers), or the type's id or name does (decided here, over the few types)."""
    needle = query.lower()
    matching_types = [
        type_id for type_id, info in types.items() if needle in type_id.lower() or needle in info.name.lower()
    ]
    return connectors.filter(
        Q(ContainsLowered(F("name"), Value(needle))) | Q(connector_type_id__in=matching_types)
    )


def _ordering(sort_key: str, descending: bool, types: dict[str, TypeInfo], space_id: str, connectors) -> list:
    """The list's order in SQL: the sort column, then the name as Python compares `name.lower()`
    and then `name` (what page 1 reads from the index `connector_space_lower_name`), then the id,
    so that pages never overlap."""
    keys = [CodePointOrder(Lower("name")), CodePointOrder(F("name")), F("id")]
    if sort_key == "type":  # by the type's name, as shown
        names = sorted({info.name.lower() for info in types.values()})
        ranks = {type_id: names.index(info.name.lower()) for type_id, info in types.items()}
        keys[:0] = _case("connector_type_id", ranks, default=len(names))
    elif sort_key == "rules":
        # Only rules know which connectors they use (one pass over the space's rules).
        ids = list(connectors.order_by().values_list("id", flat=True))
        used = {cid: count for cid, count in referenced_by_counts(space_id, ids).items() if count}
        keys[:0] = _case("id", used, default=0)
    elif sort_key == "outcome":  # never run ("") after every outcome
        keys.insert(
            0, CodePointOrder(Case(When(last_outcome="", then=Value("~")), default=F("last_outcome")))
        )
    ordering = [key.desc() if descending else key.asc() for key in keys]
    if sort_key == "last_run":  # never run first, then the oldest run
        ordering.insert(
            0,
            F("last_run_at").desc(nulls_last=True) if descending else F("last_run_at").asc(nulls_first=True),
        )
    return ordering


def _case(field: str, values: dict, default: int) -> list:
    """`[CASE WHEN field IN (...) THEN value ... ELSE default END]`, or `[]` when all are `default`."""
    by_value: dict[int, list] = {}
    for key, value in values.items():
        if value != default:
            by_value.setdefault(value, []).append(key)
    if not by_value:
        return []
    whens = [When(**{f"{field}__in": keys}, then=Value(value)) for value, keys in sorted(by_value.items())]
    return [Case(*whens, default=Value(default), output_field=IntegerField())]


def connector_list(request, model_admin):
    """The space's connectors, filtered, sorted and paged by the database: a page costs about the
    same with 100,000 connectors as with 100 (docs/admin.md#the-connector-list-at-scale)."""
    access = space_access(request)
    if not access.can_read:
        return _render(request, "no_access.html", _context(request, model_admin, "Connectors"), status=403)
    query = request.GET.get("q", "").strip()
    type_filter = request.GET.get("type", "")
    sort = request.GET.get("sort", "name")
    descending = sort.startswith("-")
    sort_key = sort.lstrip("-") if sort.lstrip("-") in SORT_KEYS else "name"

    in_space = Connector.objects.filter(space=access.space).order_by()
    # One pass over the space gives the total, the type filter's count and the types stored (the
    # filter offers a type no longer registered when the space still has connectors of it).
    per_type = dict(in_space.values_list("connector_type_id").annotate(n=Count("*")))
    types: dict[str, TypeInfo] = {t.type_id: TypeInfo.of(t.type_id) for t in registry.all_types()}
    for type_id in per_type.keys() - types.keys():
        types[type_id] = TypeInfo.of(type_id)
    matching = in_space
    if type_filter:
        matching = matching.filter(connector_type_id=type_filter)
    if query:
        matching = _searched(matching, types, query)
    # Sort and page the ids only (a sort of whole rows drags their configs and secrets along),
    # then load the page's rows in full.
    ordered_ids = matching.order_by(*_ordering(sort_key, descending, types, access.space.id, matching))
    ids = ordered_ids.values_list("id", flat=True)
    total = sum(per_type.values())
    if query:
        # A search tests every name, once for the count and again for the page: read up to
        # SEARCH_READ_AT_ONCE matching ids in order instead, so that a search matching fewer (the
        # usual one) costs one pass, counted and paged from that list.
        first = list(ids[: SEARCH_READ_AT_ONCE + 1])
        paginator = Paginator(first if len(first) <= SEARCH_READ_AT_ONCE else ids, PAGE_SIZE)
    else:  # counted already
        paginator = Paginator(ids, PAGE_SIZE)
        paginator.count = per_type.get(type_filter, 0) if type_filter else total
    page = paginator.get_page(request.GET.get("page"))
    matched = paginator.count
    page_ids = list(page.object_list)
    loaded = Connector.objects.in_bulk(page_ids)
    page_connectors = [loaded[connector_id] for connector_id in page_ids if connector_id in loaded]
    counts = referenced_by_counts(access.space.id, [c.id for c in page_connectors])
    failures = extensions.failures_last_24h(  # one query per page
        [c.id for c in page_connectors], space_ids=[access.space.id]
    )
    page_rows = [
        Row(
            c,
            types[c.connector_type_id],
            counts.get(c.id, 0),
            is_connector_deprecated(c),
            failures.get(c.id, 0),
            secrets_unreadable(c),
        )
        for c in page_connectors
    ]

    preconfigured = []
    for connector in preconfigured_connectors().values():
        info = types.get(connector.connector_type_id) or TypeInfo.of(connector.connector_type_id)
        if _matches(connector, info, query, type_filter):
            preconfigured.append(Row(connector, info, 0, is_connector_deprecated(connector)))
    preconfigured.sort(key=lambda row: (row.connector.name.lower(), row.connector.name))

    columns = []
    for key, label in COLUMNS:
        column = {"key": key, "label": label, "sortable": key in SORT_KEYS, "active": key == sort_key}
        if column["sortable"]:
            next_sort = f"-{key}" if key == sort_key and not descending else key
            column["url"] = "?" + list_query(space=access.space.id, q=query, type=type_filter, sort=next_sort)
            column["direction"] = ("descending" if descending else "ascending") if key == sort_key else "none"
        columns.append(column)

    context = _context(
        request,
        model_admin,
        "Connectors",
        rows=page_rows,
        page=page,
        total=total,
        matched=matched,
        preconfigured=preconfigured,
        query=query,
        type_filter=type_filter,
        type_choices=sorted(types.values(), key=lambda t: t.name.lower()),
        columns=columns,
        sort=sort,
        # the sort, page and Clear links name the space, as every other link of the page does
        filter_query=list_query(space=access.space.id, q=query, type=type_filter, sort=sort),
        space_query=list_query(space=access.space.id),
        # the ticked ids are this space's: the bulk buttons name it (see spaces.here_in_space)
        bulk_delete_action=_url("bulk_delete", space=access.space.id),
        bulk_export_action=_url("bulk_export", space=access.space.id),
    )
    return _render(request, "list.html", context)


# ---- create: the type grid, then the form ---------------------------------------------------------


def _specs(connector_type: ConnectorType, groups=("config", "secrets")) -> list[schema_forms.FieldSpec]:
    specs = []
    if "config" in groups:
        specs += schema_forms.specs_for(connector_type.config_schema, "config")
    if "secrets" in groups:
        specs += schema_forms.specs_for(connector_type.secrets_schema, "secrets")
    return specs


def _cleaned_config(connector_type: ConnectorType, config: dict) -> dict:
    """The config as it would be saved (defaults filled in), to compare with the saved one. An
    optional key left out (Kibana's `maybe(x, {defaultValue})`, e.g. a webhook's authType) counts
    as its default here, as the run reads it."""
    try:
        cleaned = connector_type.validate_config(config, get_config())
    except ConfigurationError:
        return config  # the save reports the problem
    for key, node in connector_type.config_schema.fields.items():
        if (
            node.optional
            and key not in cleaned
            and node.default is not MISSING
            and not callable(node.default)
        ):
            cleaned[key] = node.default
    return cleaned


def _save_errors(form, exc: Exception, specs) -> None:
    if isinstance(exc, ConfigurationError):
        message = exc.message
        group = "secrets" if "action type secrets" in message else "config"
        if "action type connector" in message and _names_a_secret(message, specs):
            group = "secrets"  # "[password] is required": show it on the password field
        schema_forms.attach_error(form, group, message, specs)
    elif isinstance(exc, ActionTypeDisabled):
        form.add_error(None, exc.message)
    else:
        form.add_error(None, str(exc))


def _check_form_secrets(form, connector_type: ConnectorType, config: dict, secrets: dict, specs) -> None:
    """Kibana's forms require the chosen authentication's secrets; each missing one gets its own
    field error (the type's check names the first; asking again with it filled names the next)."""
    cleaned = _cleaned_config(connector_type, config)
    secrets = dict(secrets)
    for _ in range(len(specs) + 1):
        problem = connector_type.check_form_secrets(cleaned, secrets)
        missing = re.fullmatch(r"\[(\w+)\] is required", problem or "")
        if problem:
            _save_errors(
                form, ConfigurationError(f"error validating action type connector: {problem}"), specs
            )
        if not missing or (missing.group(1) in secrets and secrets[missing.group(1)]):
            return
        secrets[missing.group(1)] = "(asked for)"


def _check_fields(
    form, connector_type: ConnectorType, values: dict[str, dict], specs, saved_config: dict | None = None
) -> None:
    """All the problems at once: every shown field against its own schema, then the type's own
    checks of each group whose fields are right (the type's validation stops at the first)."""
    for group, group_values in values.items():
        for spec in form.visible_specs(group):
            if spec.key == schema_forms.WHOLE or form.has_error(spec.name):
                continue
            try:
                spec.node.validate(group_values.get(spec.key, MISSING), spec.key)
            except SchemaError as exc:
                schema_forms.attach_error(form, group, str(exc), specs)
        if any(form.has_error(spec.name) for spec in form.group_specs(group)):
            continue
        if group == "secrets" and connector_type.check_form_secrets(
            _cleaned_config(connector_type, values.get("config", saved_config or {})), group_values
        ):
            continue  # a missing secret is said on its field; Kibana's combination rule adds nothing
        validate = connector_type.validate_config if group == "config" else connector_type.validate_secrets
        try:
            validate(group_values, get_config())
        except ConfigurationError as exc:
            _save_errors(form, exc, specs)


def _report_too_large(request, form) -> None:
    message = too_large_message(request)
    if message and request.method == "GET":
        # the form stays unbound (its initial values), with this one error on the name
        form._errors = ErrorDict(
            {"name" if "name" in form.fields else NON_FIELD_ERRORS: ErrorList([message])}
        )


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _names_a_secret(message: str, specs) -> bool:
    return any(f"[{spec.key}]" in message for spec in specs if spec.secret)


def connector_add(request, model_admin):
    access = _require(request, "all")
    type_id = request.GET.get("type") or request.POST.get("type")
    if not type_id:
        return type_grid(request, model_admin, access)
    connector_type = _type_or_404(type_id)
    if connector_type.is_system_action_type:
        raise Http404("System connectors cannot be created.")
    specs = _specs(connector_type)
    form = schema_forms.SchemaForm(request.POST or None, specs=specs, with_name=True)
    _report_too_large(request, form)
    if request.method == "POST":
        form.is_valid()
        config = form.values("config")
        secrets = form.values("secrets")
        _check_fields(form, connector_type, {"config": config, "secrets": secrets}, specs)
        _check_form_secrets(form, connector_type, config, secrets, specs)
        if not form.errors:
            try:
                connector = create_connector(
                    access.space,
                    name=form.cleaned_data["name"],
                    type_id=type_id,
                    config=config,
                    secrets=secrets,
                    user=_user(request),
                )
            except (ConfigurationError, ActionTypeDisabled, PreconfiguredConflict, ConnectorConflict) as exc:
                _save_errors(form, exc, specs)
            else:
                model_admin.log_addition(request, connector, [{"added": {}}])
                messages.success(request, f"Created “{connector.name}”.")
                if "_test" in request.POST:
                    return HttpResponseRedirect(_url("test", connector.id, space=access.space.id))
                return HttpResponseRedirect(_url("changelist", space=access.space.id))
    context = _context(
        request,
        model_admin,
        f"Create {article(connector_type.name)} {connector_type.name} connector",
        form=form,
        type=TypeInfo.of(type_id),
        mode="create",
        config_rows=form.bound_rows("config"),
        secret_rows=form.bound_rows("secrets"),
        # The space is in the form's URL, not only in the session: a switch in another tab meanwhile
        # must not put the connector (and its secrets) in a space other than the one this page shows.
        form_action=_url("add", type=type_id, space=access.space.id),
    )
    return _render(request, "form.html", context, status=400 if form.errors else 200)


def type_grid(request, model_admin, access):
    query = request.GET.get("q", "").strip().lower()
    types = [TypeInfo.of(t.type_id) for t in registry.all_types() if not t.is_system_action_type]
    types.sort(key=lambda t: t.name.lower())
    for info in types:
        info.visible = not query or query in f"{info.name} {info.type_id} {info.description}".lower()
        info.url = _url("add", type=info.type_id, space=access.space.id)
    context = _context(request, model_admin, "Select a connector", types=types, query=query)
    return _render(request, "type_grid.html", context)


# ---- one connector: details/edit, fix, test, logs, rules ------------------------------------------


def _tabs(connector: Connector, active: str, used_by: int, editable: bool, space_id: str) -> list[dict]:
    """Configuration is the form for those who may edit, the read-only view for everyone else. Each
    tab names the space (as every link and form of these pages does: spaces.in_space)."""
    tabs = [("change" if editable else "view", "Configuration"), ("test", "Test"), ("logs", "Logs")]
    if not connector.is_preconfigured:
        tabs.append(("rules", f"Rules ({used_by})"))
    return [
        {
            "key": key,
            "label": label,
            "url": _url(key, connector.id, space=space_id),
            "active": key == active or (key == "view" and active == "change"),
        }
        for key, label in tabs
    ]


def _connector_context(request, model_admin, connector: Connector, active: str, title: str, **extra) -> dict:
    access = space_access(request)
    used_by = (
        0
        if connector.is_preconfigured
        else referenced_by_counts(access.space.id, [connector.id]).get(connector.id, 0)
    )
    return _context(
        request,
        model_admin,
        title,
        connector=connector,
        type=TypeInfo.of(connector.connector_type_id),
        deprecated=is_connector_deprecated(connector),
        used_by=used_by,
        tabs=_tabs(connector, active, used_by, _editable(access, connector), access.space.id),
        active_tab=active,
        editable=access.can_write and not connector.is_preconfigured,
        form_action=here_in_space(request, access.space.id),
        **extra,
    )


def _editable(access, connector: Connector) -> bool:
    return (
        access.can_write
        and not connector.is_preconfigured
        and registry.is_registered(connector.connector_type_id)
    )


def connector_view(request, model_admin, connector_id: str):
    """The read-only Configuration tab: for `read` users, preconfigured connectors and unknown types."""
    access, connector = _connector(request, connector_id, "read")
    if _editable(access, connector):
        return HttpResponseRedirect(_url("change", connector.id, space=access.space.id))
    config_items = []
    if not connector.is_preconfigured or getattr(connector, "expose_config", False):
        specs = []
        if registry.is_registered(connector.connector_type_id):
            specs = _specs(registry.get(connector.connector_type_id), groups=("config",))
        if specs and specs[0].key != schema_forms.WHOLE:
            config_items = schema_forms.display_rows(specs, connector.config)
        else:
            config_items = [
                (key, key, json.dumps(value) if not isinstance(value, str) else value)
                for key, value in connector.config.items()
            ]
    context = _connector_context(
        request, model_admin, connector, "change", connector.name, config_items=config_items
    )
    return _render(request, "detail.html", context)


def connector_change(request, model_admin, connector_id: str):
    """The editable Configuration tab; 403 for `read` users."""
    access, connector = _connector(request, connector_id, "all")
    if not _editable(access, connector):
        if request.method == "POST":
            raise PermissionDenied("This connector cannot be edited.")
        return HttpResponseRedirect(_url("view", connector.id, space=access.space.id))
    connector_type = registry.get(connector.connector_type_id)
    specs = _specs(connector_type)
    stored = _stored_secrets(connector)
    stored_keys = {key for key, value in stored.items() if value not in (None, "", {}, [])}
    form = schema_forms.SchemaForm(
        request.POST or None,
        specs=specs,
        initial_values={"config": connector.config},
        stored_secret_keys=stored_keys,
        with_name=True,
        name_initial=connector.name,
    )
    _report_too_large(request, form)
    if request.method == "POST":
        form.is_valid()
        config = form.values("config")
        # A saved secret goes only where it was saved for: when the URL (or host, token URL…)
        # changes, a blank secret field is not kept, or pointing a connector at one's own server
        # and pressing Test would hand over someone else's password.
        changed = schema_forms.changed_destinations(connector.config, _cleaned_config(connector_type, config))
        reenter = schema_forms.reenter_message(changed) if changed else None
        secrets = form.values("secrets", stored=stored, reenter=reenter)
        _check_fields(form, connector_type, {"config": config, "secrets": secrets}, specs)
        _check_form_secrets(form, connector_type, config, secrets, specs)
        if not form.errors:
            try:
                update_connector(
                    connector,
                    name=form.cleaned_data["name"],
                    config=config,
                    secrets=secrets,
                    user=_user(request),
                )
            except (ConfigurationError, ActionTypeDisabled, PreconfiguredConflict) as exc:
                _save_errors(form, exc, specs)
            else:
                model_admin.log_change(request, connector, [{"changed": {}}])
                messages.success(request, f"Saved “{connector.name}”.")
                if "_test" in request.POST:
                    return HttpResponseRedirect(_url("test", connector.id, space=access.space.id))
                return HttpResponseRedirect(_url("change", connector.id, space=access.space.id))
    context = _connector_context(
        request,
        model_admin,
        connector,
        "change",
        f"Edit {connector.name}",
        form=form,
        mode="edit",
        config_rows=form.bound_rows("config"),
        secret_rows=form.bound_rows("secrets"),
    )
    return _render(request, "form.html", context, status=400 if form.errors else 200)


def connector_fix(request, model_admin, connector_id: str):
    """Re-enter the secrets of a connector imported without them (Kibana's Fix button)."""
    access, connector = _connector(request, connector_id, "all")
    if connector.is_preconfigured:
        raise PermissionDenied("Preconfigured connectors cannot be edited.")
    connector_type = _type_or_404(connector.connector_type_id)
    specs = _specs(connector_type, groups=("secrets",))
    form = schema_forms.SchemaForm(
        request.POST or None, specs=specs, saved_config=_cleaned_config(connector_type, connector.config)
    )
    if request.method == "POST":
        form.is_valid()
        secrets = form.values("secrets")
        _check_fields(form, connector_type, {"secrets": secrets}, specs, saved_config=connector.config)
        _check_form_secrets(form, connector_type, connector.config, secrets, specs)
        if not form.errors:
            try:
                update_connector(
                    connector,
                    name=connector.name,
                    config=connector.config,
                    secrets=secrets,
                    user=_user(request),
                )
            except (ConfigurationError, ActionTypeDisabled) as exc:
                _save_errors(form, exc, specs)
            else:
                model_admin.log_change(request, connector, [{"changed": {"fields": ["secrets"]}}])
                messages.success(request, f"Secrets saved: “{connector.name}” can run again.")
                return HttpResponseRedirect(_url("change", connector.id, space=access.space.id))
    context = _connector_context(
        request,
        model_admin,
        connector,
        "change",
        f"Fix {connector.name}",
        form=form,
        mode="fix",
        config_rows=[],
        secret_rows=form.bound_rows("secrets"),
    )
    return _render(request, "form.html", context, status=400 if form.errors else 200)


def connector_test(request, model_admin, connector_id: str):
    # Kibana lets `read` execute connectors
    _access, connector = _connector(request, connector_id, "execute")
    result: ExecutionResult | None = None
    if not registry.is_registered(connector.connector_type_id):
        specs = []
    else:
        connector_type = registry.get(connector.connector_type_id)
        sub_actions = getattr(connector_type, "sub_actions", None)
        specs = schema_forms.specs_for(
            connector_type.test_params_schema or connector_type.params_schema,
            "params",
            known_values={"subAction": sorted(sub_actions)} if sub_actions else None,
            nested=True,
        )
    form = schema_forms.SchemaForm(request.POST or None, specs=specs)
    if request.method == "POST":
        form.is_valid()
        params = form.values("params")
        if not form.errors and registry.is_registered(connector.connector_type_id):
            try:
                connector_type.validate_params(params, get_config())
            except ConfigurationError as exc:
                schema_forms.attach_error(form, "params", exc.message, specs)
            else:
                result = extensions.run_connector(connector, params, source="admin_test", user=_user(request))
    result_data = None
    if result is not None and result.ok and result.data is not None:
        result_data = result.data if isinstance(result.data, str) else json.dumps(result.data, indent=2)
    context = _connector_context(
        request,
        model_admin,
        connector,
        "test",
        f"Test {connector.name}",
        form=form,
        param_rows=form.bound_rows("params"),
        result=result,
        result_data=result_data,
        can_run=registry.is_registered(connector.connector_type_id) and not connector.is_missing_secrets,
    )
    return _render(request, "test.html", context)


def connector_logs(request, model_admin, connector_id: str):
    """The connector's runs: the event-log area's fragment (filters `log_outcome`, `log_from`,
    `log_to`, `log_page` in the query string)."""
    _access, connector = _connector(request, connector_id, "read")
    context = _connector_context(
        request,
        model_admin,
        connector,
        "logs",
        f"Logs of {connector.name}",
        logs_html=extensions.render_connector_log(request, connector),
    )
    return _render(request, "logs.html", context)


@dataclass
class RuleRow:
    rule: object
    url: str
    status: str
    last_outcome: str


def _rule_rows(space_id: str, connector_id: str) -> list[RuleRow]:
    rows = []
    for rule in sorted(
        extensions.rules_referencing(space_id, connector_id), key=lambda r: (r.name.lower(), r.id)
    ):
        try:
            rule_url = reverse("admin:actions_rule_change", args=[rule.id])  # by id, in any space
        except NoReverseMatch:
            rule_url = ""
        rows.append(
            RuleRow(
                rule,
                rule_url,
                (rule.execution_status or {}).get("status", "pending"),
                (rule.last_run or {}).get("outcome", ""),
            )
        )
    return rows


def connector_rules(request, model_admin, connector_id: str):
    access, connector = _connector(request, connector_id, "read")
    rules = [] if connector.is_preconfigured else _rule_rows(access.space.id, connector.id)
    context = _connector_context(
        request, model_admin, connector, "rules", f"Rules using {connector.name}", rules=rules
    )
    return _render(request, "rules.html", context)


# ---- delete: one (trash icon) or several (bulk) ---------------------------------------------------


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _delete(request, model_admin, ids: list[str]):
    preconfigured_ids = set(preconfigured_connectors())
    skipped = [i for i in ids if i in preconfigured_ids]
    access, found = _connectors(request, [i for i in ids if i not in preconfigured_ids], "all")
    rows = list(found)
    back = _safe_next(request, _url("changelist", space=access.space.id))
    if skipped:
        names = ", ".join(preconfigured_connectors()[i].name for i in skipped)
        messages.warning(request, f"Preconfigured connectors cannot be deleted and were skipped: {names}.")
    if not rows:
        if not skipped:
            messages.warning(request, "Select at least one connector to delete.")
        return HttpResponseRedirect(back)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        model_admin.log_deletions(request, Connector.objects.filter(pk__in=[c.pk for c in rows]))
        for connector in rows:
            delete_connector(connector)
        noun = "connector" if len(rows) == 1 else "connectors"
        messages.success(request, f"Deleted {len(rows)} {noun}.")
        return HttpResponseRedirect(_url("changelist", space=access.space.id))
    counts = referenced_by_counts(access.space.id, [c.id for c in rows])
    items = [
        {
            "connector": c,
            "used_by": counts.get(c.id, 0),
            "type": TypeInfo.of(c.connector_type_id),
            "rules": _rule_rows(access.space.id, c.id) if counts.get(c.id, 0) else [],
        }
        for c in rows
    ]
    in_use = sum(1 for item in items if item["used_by"])
    noun = "connector" if len(rows) == 1 else "connectors"
    context = _context(
        request,
        model_admin,
        f"Delete {len(rows)} {noun}?",
        items=items,
        in_use=in_use,
        back=back,
        form_action=here_in_space(request, access.space.id),
    )
    return _render(request, "delete_confirm.html", context)


def connector_delete(request, model_admin, connector_id: str):
    return _delete(request, model_admin, [connector_id])


def connector_bulk_export(request, model_admin):
    """ "Export selected": the saved-objects Export page for the ticked connectors of this space."""
    ids = request.POST.getlist("ids") if request.method == "POST" else []
    _access, found = _connectors(request, ids, "read")
    selection = list(found.order_by("name", "id"))
    if not selection:
        messages.warning(request, "Select at least one connector to export.")
        return HttpResponseRedirect(_url("changelist"))
    return HttpResponseRedirect(export_selection_url(selection))


def connector_bulk_delete(request, model_admin):
    if request.method != "POST":
        return HttpResponseRedirect(_url("changelist"))
    return _delete(request, model_admin, request.POST.getlist("ids"))
