"""The connectors admin: Kibana's Stack Management > Connectors on the Django admin (docs/admin.md).

Django's autodiscovery imports this package, which registers the ModelAdmins:

- `model_admins`: spaces, and connectors (`ConnectorAdmin`, whose pages are in `views`);
- `api_keys_and_privileges`: API keys and per-space privileges.

The rest serves them: `site` (the admin site and its login form), `spaces` (the current space),
`views` (the connector pages), `forms` (forms built from a type's schemas), `icons`, `middleware`
(an oversized form), and `saved_objects` (the Import and Export pages, under `/admin/saved-objects/`).
The admin's AppConfig is `connectors.apps.ConnectorsAdminConfig`, outside this package, since
this package imports models.
"""

from connectors.admin import api_keys_and_privileges, model_admins  # noqa: F401 -- they register
