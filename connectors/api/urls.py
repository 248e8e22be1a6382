from django.urls import path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from connectors.api import encrypted_saved_objects, legacy, oauth_flow_views, spaces, views

urlpatterns = [
    path("api/actions/connector", views.ConnectorCreateView.as_view(), name="connector-create"),
    # Reserved names first: `_oauth_callback` must never be read as a connector id.
    path(
        "api/actions/connector/_oauth_callback",
        oauth_flow_views.OAuthCallbackView.as_view(),
        name="connector-oauth-callback",
    ),
    path("internal/actions/connector/_oauth_callback", oauth_flow_views.OAuthCallbackView.as_view()),
    path(
        "api/actions/connector/_oauth_callback_script",
        oauth_flow_views.OAuthCallbackScriptView.as_view(),
        name="connector-oauth-callback-script",
    ),
    path(
        "internal/actions/connector/<str:connector_id>/_start_oauth_flow",
        oauth_flow_views.StartOAuthFlowView.as_view(),
        name="connector-start-oauth-flow",
    ),
    path(
        "internal/actions/connector/<str:connector_id>/_oauth_cancel",
        oauth_flow_views.CancelOAuthFlowView.as_view(),
        name="connector-oauth-cancel",
    ),
    path(
        "internal/actions/connector/<str:connector_id>/_oauth_disconnect",
        oauth_flow_views.DisconnectOAuthView.as_view(),
        name="connector-oauth-disconnect",
    ),
    path(
        "internal/actions/connectors/_me/auth_status",
        oauth_flow_views.AuthStatusView.as_view(),
        name="connector-auth-status",
    ),
    path("api/actions/connector/<str:connector_id>", views.ConnectorView.as_view(), name="connector"),
    path(
        "api/actions/connector/<str:connector_id>/_execute",
        views.ConnectorExecuteView.as_view(),
        name="connector-execute",
    ),
    path("api/actions/connectors", views.ConnectorListView.as_view(), name="connector-list"),
    path("api/actions/connector_types", views.ConnectorTypesView.as_view(), name="connector-types"),
    # Kibana's internal list routes (its UI's), with system connectors and system types.
    path(
        "internal/actions/connectors",
        views.InternalConnectorListView.as_view(),
        name="internal-connector-list",
    ),
    path(
        "internal/actions/connector_types",
        views.InternalConnectorTypesView.as_view(),
        name="internal-connector-types",
    ),
    # Kibana's spaces API.
    path("api/spaces/space", spaces.SpaceListView.as_view(), name="space-list"),
    path("api/spaces/space/<str:space_ref>", spaces.SpaceView.as_view(), name="space"),
    path(
        "api/spaces/_disable_legacy_url_aliases",
        spaces.DisableLegacyUrlAliasesView.as_view(),
        name="spaces-disable-legacy-url-aliases",
    ),
    path("api/spaces/_copy_saved_objects", spaces.CopySavedObjectsView.as_view(), name="spaces-copy"),
    path(
        "api/spaces/_resolve_copy_saved_objects_errors",
        spaces.ResolveCopySavedObjectsErrorsView.as_view(),
        name="spaces-resolve-copy-errors",
    ),
    path(
        "api/encrypted_saved_objects/_rotate_key",
        encrypted_saved_objects.RotateKeyView.as_view(),
        name="encrypted-saved-objects-rotate-key",
    ),
    # The legacy 7.x routes (camelCase bodies), still called by 8.x clients.
    path("api/actions/action", legacy.LegacyCreateView.as_view(), name="legacy-action-create"),
    path("api/actions/action/<str:connector_id>", legacy.LegacyActionView.as_view(), name="legacy-action"),
    path(
        "api/actions/action/<str:connector_id>/_execute",
        legacy.LegacyExecuteView.as_view(),
        name="legacy-action-execute",
    ),
    path("api/actions", legacy.LegacyListView.as_view(), name="legacy-action-list"),
    path("api/actions/list_action_types", legacy.LegacyTypesView.as_view(), name="legacy-action-types"),
    # Our own OpenAPI schema and its interactive pages.
    # JSON unless YAML is asked for (`?format=yaml` or an OpenAPI YAML Accept header).
    path(
        "api/schema/",
        SpectacularAPIView.as_view(
            renderer_classes=[
                OpenApiJsonRenderer,
                OpenApiJsonRenderer2,
                OpenApiYamlRenderer,
                OpenApiYamlRenderer2,
            ]
        ),
        name="api-schema",
    ),
    path("api/schema/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/schema/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # The names drf-spectacular's documentation uses, for people who guess them.
    path("api/schema/swagger-ui/", SpectacularSwaggerView.as_view(url_name="api-schema")),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema")),
]
