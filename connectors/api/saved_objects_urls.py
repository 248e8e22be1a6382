from django.urls import path

from connectors.api import saved_objects_views as views

urlpatterns = [
    path("api/saved_objects/_export", views.SavedObjectsExportView.as_view(), name="saved-objects-export"),
    path("api/saved_objects/_import", views.SavedObjectsImportView.as_view(), name="saved-objects-import"),
    path(
        "api/saved_objects/_resolve_import_errors",
        views.SavedObjectsResolveImportErrorsView.as_view(),
        name="saved-objects-resolve-import-errors",
    ),
]
