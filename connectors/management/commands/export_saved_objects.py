"""`manage.py export_saved_objects`: the API's export from the command line (same options)."""

import os
import sys

from django.core.management.base import BaseCommand, CommandError

from connectors.models import Space
from connectors.saved_objects import SavedObjectsRequestError, export_objects, to_ndjson

PASSPHRASE_ENV = "CONNECTORS_EXPORT_PASSPHRASE"


def read_passphrase(path: str | None) -> str | None:
    """From a file (`-` for stdin) or the CONNECTORS_EXPORT_PASSPHRASE variable; never an argument,
    which would show in the process list and the shell history."""
    if path:
        try:
            text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot read the passphrase file: {exc.strerror}") from None
        passphrase = text.rstrip("\r\n")
        if not passphrase:
            raise CommandError("The passphrase file is empty.")
        return passphrase
    return os.environ.get(PASSPHRASE_ENV) or None


class Command(BaseCommand):
    help = "Export saved objects of a space as Kibana NDJSON (secrets only with a passphrase, encrypted)."

    def add_arguments(self, parser):
        parser.add_argument("--space", default="default", help="space id (default: default)")
        parser.add_argument(
            "--type",
            action="append",
            dest="types",
            default=[],
            help="saved-object type, repeatable; * for all",
        )
        parser.add_argument(
            "--object", action="append", dest="objects", default=[], metavar="TYPE:ID", help="repeatable"
        )
        parser.add_argument("--include-references-deep", action="store_true")
        parser.add_argument("--exclude-export-details", action="store_true")
        parser.add_argument(
            "--passphrase-file",
            help=f"file holding the passphrase ('-' for stdin); or set {PASSPHRASE_ENV}",
        )
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")

    def handle(self, *args, **options):
        space = Space.objects.filter(pk=options["space"]).first()
        if space is None:
            raise CommandError(f"Space {options['space']!r} does not exist.")
        objects = []
        for item in options["objects"]:
            type_name, sep, object_id = item.partition(":")
            if not sep or not type_name or not object_id:
                raise CommandError(f"--object expects TYPE:ID, got {item!r}")
            objects.append({"type": type_name, "id": object_id})
        try:
            lines = export_objects(
                space,
                types=options["types"] or None,
                objects=objects or None,
                include_references_deep=options["include_references_deep"],
                exclude_export_details=options["exclude_export_details"],
                passphrase=read_passphrase(options["passphrase_file"]),
            )
        except SavedObjectsRequestError as exc:
            raise CommandError(exc.message) from None
        text = to_ndjson(lines)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
            count = len(lines) - (0 if options["exclude_export_details"] else 1)
            self.stderr.write(f"Exported {count} object(s) to {options['output']}.")
        else:
            self.stdout.write(text, ending="")
