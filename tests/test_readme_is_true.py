"""The README stays true: every environment variable the code reads, every key of the settings file,
every route family and every benchmark script is in it, and nothing it names is gone from the code.
Drift fails `make test` instead of waiting for a reader to trip over it."""

import re
from pathlib import Path

from django.urls import get_resolver
from django.urls.resolvers import URLResolver

from connectors.settings_file import SETTINGS
from connectors_project.env import KNOWN_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
# Headings without the fenced examples, whose `# comment` lines would look like headings.
README_PROSE = re.sub(r"^```.*?^```", "", README, flags=re.M | re.S)

# Where the service reads its configuration (benchmarks/ and tests/ have their own README sections).
SERVICE_CODE = ("connectors", "actions", "eventlog", "connectors_project", "manage.py")
ENV_READ = re.compile(
    r"""(env_(?:str|int|bool|list|url|secret)\(\s*|os\.environ\.get\(\s*|os\.environ\[\s*|os\.getenv\(\s*)"""
    r"""["']([A-Z][A-Z0-9_]+)["']"""
)
# A name kept in a constant, read as `os.environ.get(PASSPHRASE_ENV)`.
ENV_NAME_CONSTANT = re.compile(r"""^\w*(?:_ENV|_VARIABLE)\s*=\s*["']([A-Z][A-Z0-9_]+)["']""", re.M)
# Set by `serve` for its own children, or by Django's entry points: not configuration.
INTERNAL = {"CONNECTORS_STARTUP_REPORTED", "DJANGO_SETTINGS_MODULE"}


def section(title: str) -> str:
    """The README's text from the heading `title` to the next heading of the same or a higher level."""
    match = re.search(rf"^(#+) {re.escape(title)}\n", README_PROSE, re.M)
    assert match, f"README has no heading {title!r}"
    level = len(match.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(README_PROSE, match.end())
    return README_PROSE[match.end() : end.start() if end else len(README_PROSE)]


def table_names(text: str) -> set[str]:
    """The backticked names in the first column of the markdown tables in `text`."""
    names = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([^`]+)`", line.split(" | ")[0]))
    return names


def variables_read(paths, root=ROOT) -> set[str]:
    found = set()
    for name in paths:
        path = root / name
        for file in [path] if path.is_file() else path.rglob("*.py"):
            found.update(ENV_NAME_CONSTANT.findall(file.read_text()))
            for reader, variable in ENV_READ.findall(file.read_text()):
                found.add(variable)
                if reader.startswith("env_secret"):  # also reads NAME_FILE
                    found.add(f"{variable}_FILE")
    return found


def documented_variables() -> set[str]:
    names = table_names(section("Environment variables"))
    # `SECRET_KEY` (or `SECRET_KEY_FILE`), `CONNECTORS_ENCRYPTION_KEYS` (or `…_FILE`)
    names.update(f"{name}_FILE" for name in list(names) if "_FILE" not in name)
    return {name for name in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)}


def test_every_environment_variable_the_service_reads_is_in_the_readme():
    missing = variables_read(SERVICE_CODE) - INTERNAL - documented_variables()
    assert not missing, f"README's environment table lacks {sorted(missing)}"


def test_every_environment_variable_the_service_reads_is_accepted_in_dot_env():
    """`.env` refuses names it does not know: one the code reads but KNOWN_VARIABLES lacks can only be
    set in the environment, and putting it in `.env`, as the README says, stops start-up."""
    missing = variables_read(SERVICE_CODE) - {"DJANGO_SETTINGS_MODULE"} - set(KNOWN_VARIABLES)
    assert not missing, f"KNOWN_VARIABLES lacks {sorted(missing)}"


def test_every_row_of_the_readme_environment_table_names_a_variable_the_service_reads():
    stale = {
        name
        for name in table_names(section("Environment variables"))
        if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)
    } - variables_read(SERVICE_CODE)
    assert not stale, f"README documents variables nothing reads: {sorted(stale)}"


def test_dot_env_example_lists_every_variable_of_the_readme_table():
    """The README says `.env.example` lists them all; `CONNECTORS_ENV_FILE` names the file itself and
    `*_FILE` are alternatives to their variables."""
    from dotenv import dotenv_values

    example = set(dotenv_values(ROOT / ".env.example"))
    wanted = {name for name in documented_variables() if not name.endswith("_FILE")}
    missing = wanted - {"CONNECTORS_ENV_FILE"} - example
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_every_variable_the_tests_and_benchmarks_read_is_in_their_readme_section():
    own = {"CI"} | variables_read(("tests", "benchmarks"))
    own -= variables_read(SERVICE_CODE) | INTERNAL
    own -= {"SCALEOUT_CLUSTER_LABEL", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # set by the tests for themselves
    documented = table_names(section("Test and benchmark variables"))
    assert own - documented == set(), f"README lacks {sorted(own - documented)}"
    assert documented - own == set(), f"README documents {sorted(documented - own)}, which nothing reads"


def test_every_key_of_the_settings_file_is_in_the_readme():
    documented = table_names(section("The settings file (`kibana.yml` style)"))
    missing = set(SETTINGS) - documented
    assert not missing, f"README's settings tables lack {sorted(missing)}"


def test_every_key_the_readme_documents_for_the_settings_file_exists():
    documented = table_names(section("The settings file (`kibana.yml` style)"))
    stale = documented - set(SETTINGS)
    assert not stale, f"README documents settings keys the code does not know: {sorted(stale)}"


def routes(patterns=None, prefix="/"):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def test_every_route_family_is_in_the_readme():
    """A route's fixed part up to its first parameter (its parent, when it has none), and its last
    fixed segment (`_finish`, `_oauth_callback`), are both named in the README, which may shorten
    a family's routes as `…/_find|_active`."""
    missing = []
    for route in routes():
        if route.startswith(("/s/", "/admin/")) or route == "/":
            continue
        family = route.split("<", 1)[0].rstrip("/") if "<" in route else route.rstrip("/").rsplit("/", 1)[0]
        last = [segment for segment in route.rstrip("/").split("/") if segment and "<" not in segment][-1]
        if family not in README or not re.search(rf"(?<![\w-]){re.escape(last)}(?![\w-])", README):
            missing.append(route)
    assert not missing, f"README's API sections lack {missing}"


def test_every_benchmark_script_is_in_the_readme():
    benchmarks = section("Benchmarks")
    scripts = {path.stem for path in (ROOT / "benchmarks").glob("*.py") if not path.stem.startswith("_")}
    missing = {name for name in scripts if not re.search(rf"\b{name}\b", benchmarks)}
    assert not missing, f"README's benchmarks list lacks {sorted(missing)}"
    named = set(re.findall(r"(?<![\w/-])benchmarks[./](\w+)", benchmarks))
    assert named <= scripts, f"README names benchmarks that do not exist: {sorted(named - scripts)}"


def test_the_first_screen_of_the_readme_says_how_to_run_and_test_and_what_they_need():
    first_screen = "\n".join(README.splitlines()[:40])
    for needed in ("make run", "make test", "Python 3.11", "Chromium", "PostgreSQL", "Redis", "CI=true"):
        assert needed in first_screen, f"README's first 40 lines do not mention {needed!r}"
