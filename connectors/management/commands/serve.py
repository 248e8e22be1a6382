"""Run the web server and a django-q2 worker cluster together, in the foreground. Ctrl-C stops both."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web UI/API (gunicorn) and the background workers (django-q2) together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--no-worker", action="store_true", help="serve the web only")

    def handle(self, *args, host, port, web_workers, no_worker, **options):
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)
        python = sys.executable
        manage = os.path.join(settings.BASE_DIR, "manage.py")
        web = [
            python,
            "-m",
            "gunicorn",
            "connectors_project.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(web_workers),
            "--threads",
            "8",
            "--worker-class",
            "gthread",
            "--timeout",
            "330",
            "--access-logfile",
            "-",
        ]
        processes = [subprocess.Popen(web, cwd=settings.BASE_DIR)]
        if not no_worker:
            processes.append(subprocess.Popen([python, manage, "qcluster"], cwd=settings.BASE_DIR))
        self.stdout.write(
            self.style.SUCCESS(f"Connectors is running on http://{host}:{port}/admin/ (Ctrl-C stops it)")
        )

        def stop(*_):
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for process in processes:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()

        signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
            self.stderr.write("A child process exited; stopping the others.")
        except KeyboardInterrupt:
            pass
        finally:
            stop()
