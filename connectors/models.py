import re
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower

from connectors.db_functions import CodePointOrder
from connectors.fields import SecretsField, open_sealed, seal

SPACE_ID_RE = re.compile(r"^[a-z0-9_\-]+\Z")  # not `$`, which also matches before a final newline
CONNECTOR_ID_RE = re.compile(r"^[a-z0-9\-]+\Z")
CONNECTOR_ID_MAX_LENGTH = 36
DEFAULT_SPACE_ID = "default"


def validate_space_id(value: str) -> None:
    if not SPACE_ID_RE.match(value or ""):
        raise ValidationError("lower case, a-z, 0-9, '_', and '-' are allowed", code="invalid_space_id")


def validate_connector_id(value: str) -> None:
    if len(value) > CONNECTOR_ID_MAX_LENGTH:
        raise ValidationError("Connector ID must be 36 characters or less.", code="too_long")
    if not CONNECTOR_ID_RE.match(value):
        raise ValidationError(
            "Connector ID must contain only lowercase letters, numbers, and hyphens.", code="invalid"
        )


def new_connector_id() -> str:
    return str(uuid.uuid4())


class Space(models.Model):
    """A tenant, as Kibana's spaces: connectors, rules and events belong to one."""

    id = models.CharField(primary_key=True, max_length=255, validators=[validate_space_id])
    name = models.CharField(max_length=1024)
    description = models.TextField(blank=True, default="")
    color = models.CharField(max_length=16, blank=True, default="")
    initials = models.CharField(max_length=2, blank=True, default="")
    image_url = models.TextField(blank=True, default="")
    disabled_features = models.JSONField(default=list, blank=True)
    solution = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_SPACE_ID

    @classmethod
    def ensure_default(cls) -> "Space":
        space, _ = cls.objects.get_or_create(
            id=DEFAULT_SPACE_ID,
            defaults={"name": "Default", "description": "This is your default space!", "color": "#00bfb3"},
        )
        return space


class Connector(models.Model):
    """A connector saved object (Kibana type `action`). Preconfigured connectors are not rows: they
    are built in memory by `connectors.preconfigured` and have `is_preconfigured` set."""

    id = models.CharField(
        primary_key=True,
        max_length=CONNECTOR_ID_MAX_LENGTH,
        default=new_connector_id,
        validators=[validate_connector_id],
    )
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="connectors")
    name = models.CharField(max_length=1024, db_index=True)
    connector_type_id = models.CharField(max_length=128, db_index=True)
    config = models.JSONField(default=dict, blank=True)
    secrets_sealed = SecretsField(blank=True, default="")
    is_missing_secrets = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.CharField(max_length=150, blank=True, default="")
    updated_by = models.CharField(max_length=150, blank=True, default="")
    # Health of the last run, kept on the row so lists need no event-log query.
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=16, blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    # Kibana's `originId`: the id of the object this one was imported or copied from under a new id,
    # so a second copy into the same space finds it (a conflict) instead of making another.
    origin_id = models.CharField(max_length=255, blank=True, default="", db_index=True)

    is_preconfigured = False
    is_system_action = False

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["space", "name"]),
            # The admin list's order (connectors.admin.views), with and without its type filter: a
            # page is read in index order, and its search reads the lowered names from the index.
            models.Index(F("space"), CodePointOrder(Lower("name")), name="connector_space_lower_name"),
            models.Index(
                F("space"),
                F("connector_type_id"),
                CodePointOrder(Lower("name")),
                name="connector_space_type_name",
            ),
        ]

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"<Connector {self.id} {self.connector_type_id}>"

    def set_secrets(self, secrets: dict) -> None:
        self.secrets_sealed = seal(secrets or {}, connector_id=self.id, type_id=self.connector_type_id)

    def get_secrets(self) -> dict:
        """Open the stored secrets; raises SecretsUnreadable on a wrong key or a foreign envelope."""
        if getattr(self, "_plain_secrets", None) is not None:
            return self._plain_secrets
        if not self.secrets_sealed:
            return {}
        return open_sealed(self.secrets_sealed, connector_id=self.id, type_id=self.connector_type_id)

    @property
    def has_secrets(self) -> bool:
        return bool(self.secrets_sealed) or bool(getattr(self, "_plain_secrets", None))

    @property
    def space_id_value(self) -> str:
        return self.space_id


class ConnectorToken(models.Model):
    """A cached OAuth access token (Kibana's `connector_token`), encrypted and bound to its connector."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="tokens")
    token_type = models.CharField(max_length=64, default="access_token")
    token_sealed = SecretsField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.token_type} for {self.connector_id}"

    def set_token(self, value: str) -> None:
        self.token_sealed = seal(
            {"token": value}, connector_id=self.connector_id, type_id=f"token:{self.token_type}"
        )

    def get_token(self) -> str:
        opened = open_sealed(
            self.token_sealed, connector_id=self.connector_id, type_id=f"token:{self.token_type}"
        )
        return opened["token"]


class OAuthState(models.Model):
    """One OAuth authorization-code flow in progress (Kibana's `oauth_state`): bound to the user who
    started it and to one connector (and so one space). Only a SHA-256 of the state is stored, so the
    table gives nobody a usable state; the PKCE verifier is sealed like secrets."""

    state_hash = models.CharField(primary_key=True, max_length=64)
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="oauth_states")
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")
    verifier_sealed = SecretsField()
    redirect_uri = models.TextField()
    return_url = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"OAuth flow for {self.connector_id}"

    def set_verifier(self, verifier: str) -> None:
        self.verifier_sealed = seal(
            {"verifier": verifier}, connector_id=self.connector_id, type_id="oauth:pkce"
        )

    def get_verifier(self) -> str:
        return open_sealed(self.verifier_sealed, connector_id=self.connector_id, type_id="oauth:pkce")[
            "verifier"
        ]


class IndexDocument(models.Model):
    """The local document store that `.index` connectors write to and rules query."""

    index = models.CharField(max_length=255, db_index=True)
    doc_id = models.CharField(max_length=64, unique=True)
    seq_no = models.BigIntegerField()
    document = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["index", "created_at"])]

    def __str__(self):
        return f"{self.index}/{self.doc_id}"


class SpacePrivilege(models.Model):
    """A user's or a group's privilege for connectors (and rules) in one space."""

    PRIVILEGES = [("all", "All"), ("read", "Read")]

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="privileges")
    user = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.CASCADE)
    group = models.ForeignKey("auth.Group", null=True, blank=True, on_delete=models.CASCADE)
    privilege = models.CharField(max_length=8, choices=PRIVILEGES)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="space_privilege_user_xor_group",
            ),
            models.UniqueConstraint(fields=["space", "user"], name="unique_space_user_privilege"),
            models.UniqueConstraint(fields=["space", "group"], name="unique_space_group_privilege"),
        ]

    def __str__(self):
        return f"{self.user or self.group}: {self.privilege} in {self.space_id}"

    @classmethod
    def effective_privilege(cls, user, space_id: str) -> str:
        """The highest privilege granted to the user directly or through a group."""
        # One join rather than a `group__in` subquery: the same rows, and cheaper to build on
        # every API request of a user who is not a superuser.
        grants = set(
            cls.objects.filter(
                models.Q(user=user) | models.Q(group__user=user), space_id=space_id
            ).values_list("privilege", flat=True)
        )
        if "all" in grants:
            return "all"
        if "read" in grants:
            return "read"
        return "none"


class ApiKey(models.Model):
    """`Authorization: ApiKey base64(id:key)`. The key is shown once and stored as a SHA-256 hash
    (it is 256 random bits, so a fast hash is safe and keeps every request cheap)."""

    id = models.CharField(primary_key=True, max_length=32)
    name = models.CharField(max_length=255)
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="api_keys")
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.id})"
