from django.urls import path

from connectors.api import views

urlpatterns = [
    path("api/actions/connector", views.ConnectorCreateView.as_view(), name="connector-create"),
    path("api/actions/connector/<str:connector_id>", views.ConnectorView.as_view(), name="connector"),
    path(
        "api/actions/connector/<str:connector_id>/_execute",
        views.ConnectorExecuteView.as_view(),
        name="connector-execute",
    ),
    path("api/actions/connectors", views.ConnectorListView.as_view(), name="connector-list"),
    path("api/actions/connector_types", views.ConnectorTypesView.as_view(), name="connector-types"),
]
