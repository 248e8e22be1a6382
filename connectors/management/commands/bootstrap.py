"""Idempotent first-run setup: the `default` space and the superuser."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from connectors.extensions import slots
from connectors.models import Space

DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "changeme"  # documented in README; printed when used


class Command(BaseCommand):
    help = "Create the default space and the superuser (from DJANGO_SUPERUSER_USERNAME/PASSWORD)."

    def handle(self, *args, **options):
        Space.ensure_default()
        for step in slots.bootstrap_steps:  # e.g. the event log's retention schedule
            step()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or DEFAULT_USERNAME
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(f"Superuser {username!r} already exists.")
            return
        if not password:
            password = DEFAULT_PASSWORD
            self.stdout.write(
                self.style.WARNING(
                    f"DJANGO_SUPERUSER_PASSWORD is not set: created superuser {username!r} with the default "
                    f"password {DEFAULT_PASSWORD!r}. Change it at /admin/password_change/."
                )
            )
        users.create_superuser(username=username, email="", password=password)
        self.stdout.write(f"Created superuser {username!r}.")
