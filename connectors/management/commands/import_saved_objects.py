"""`manage.py import_saved_objects FILE`: the API's import from the command line (same options).
Prints Kibana's import response as JSON; exits 1 when any object was not imported."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from connectors.management.commands.export_saved_objects import PASSPHRASE_ENV, read_passphrase
from connectors.models import Space
from connectors.saved_objects import ImportOptions, SavedObjectsRequestError, import_objects


class Command(BaseCommand):
    help = "Import a Kibana NDJSON export into a space; prints the import response."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the .ndjson file ('-' for stdin)")
        parser.add_argument("--space", default="default")
        parser.add_argument("--overwrite", action="store_true")
        parser.add_argument("--create-new-copies", action="store_true")
        parser.add_argument("--compatibility-mode", action="store_true")
        parser.add_argument(
            "--passphrase-file",
            help=f"file holding the export passphrase ('-' for stdin); or set {PASSPHRASE_ENV}",
        )
        parser.add_argument("--user", default="", help="recorded as the creator of the objects")

    def handle(self, *args, **options):
        space = Space.objects.filter(pk=options["space"]).first()
        if space is None:
            raise CommandError(f"Space {options['space']!r} does not exist.")
        if options["file"] == "-" and options["passphrase_file"] == "-":
            raise CommandError("The file and the passphrase cannot both come from stdin.")
        try:
            if options["file"] == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(options["file"], "rb") as handle:
                    data = handle.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror}") from None
        import_options = ImportOptions(
            overwrite=options["overwrite"],
            create_new_copies=options["create_new_copies"],
            compatibility_mode=options["compatibility_mode"],
            passphrase=read_passphrase(options["passphrase_file"]),
        )
        try:
            result = import_objects(space, data, import_options, user=options["user"])
        except SavedObjectsRequestError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(json.dumps(result, indent=2))
        if not result["success"]:
            raise SystemExit(1)
