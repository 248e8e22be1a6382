"""The admin's connector list lets the database filter, sort and page: a page reads one page of rows,
whatever the space holds, and shows what the whole-space Python sort showed (same order, counts,
type choices, search). Speed itself is measured by benchmarks/connector_list.py, not here."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from actions.models import Rule
from connectors.admin.views import PAGE_SIZE, TypeInfo
from connectors.models import Connector, Space

LIST = "/admin/connectors/connector/"
PAGES = [
    {},
    {"q": "connector 0000"},
    {"type": ".webhook"},
    {"q": "connector 0000", "type": ".webhook"},
    {"sort": "-name", "page": "2"},
    {"sort": "type"},
    {"sort": "-last_run"},
    {"sort": "outcome"},
]


def bulk_connectors(space, count, start=0):
    kinds = [
        (".webhook", {"url": "http://127.0.0.1:9/x", "method": "post"}),
        (".server-log", {}),
        (".index", {}),
    ]
    rows = []
    for i in range(start, start + count):
        type_id, config = kinds[i % len(kinds)]
        rows.append(
            Connector(space=space, name=f"Connector {i:05d}", connector_type_id=type_id, config=config)
        )
    Connector.objects.bulk_create(rows)


def connector_selects(queries):
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("SELECT") and '"connectors_connector"' in q["sql"]
    ]


def listed_ids(page: str) -> list[str]:
    start = page.index('id="cx-connectors"')
    end = page.index("</table>", start)
    table = page[start:end]
    return [part.split('"', 1)[0] for part in table.split('<tr data-connector-id="')[1:]]


@pytest.mark.parametrize("query", PAGES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "page 1")
def test_the_list_reads_one_page_of_connectors_not_the_whole_space(admin_client, default_space, query):
    bulk_connectors(default_space, 3 * PAGE_SIZE)

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(LIST, query)

    assert response.status_code == 200
    for sql in connector_selects(captured.captured_queries):
        with connection.cursor() as cursor:
            cursor.execute(sql)
            assert len(cursor.fetchall()) <= PAGE_SIZE, sql


@pytest.mark.parametrize("query", PAGES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "page 1")
def test_the_number_of_queries_does_not_grow_with_the_number_of_connectors(
    admin_client, default_space, query
):
    bulk_connectors(default_space, 10)
    admin_client.get(LIST, query)  # the session's space is saved once
    with CaptureQueriesContext(connection) as few:
        admin_client.get(LIST, query)
    bulk_connectors(default_space, 190, start=10)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(LIST, query)

    assert len(many.captured_queries) == len(few.captured_queries)


# The order the list had when it sorted the whole space in Python (name, then the column's key).
PYTHON_KEYS = {
    "name": lambda c, info, used: (c.name.lower(), c.name),
    "type": lambda c, info, used: (info.name.lower(), c.name.lower()),
    "rules": lambda c, info, used: (used, c.name.lower()),
    "last_run": lambda c, info, used: (c.last_run_at is not None, c.last_run_at or 0),
    "outcome": lambda c, info, used: (c.last_outcome or "~", c.name.lower()),
}


@pytest.fixture
def mixed_space(default_space):
    """Names that sort differently by case, by code point and linguistically; outcomes, runs, rule
    counts and a type that is no longer registered."""
    names = [
        "alpha",
        "Alpha",
        "ALPHA",
        "a-b",
        "a b",
        "ab",
        "A_b",
        "a~",
        "Zulu",
        "zeta",
        "_x",
        "10",
        "9",
        "b",
        "B",
    ]
    types = [".webhook", ".server-log", ".index", ".retired-type"]
    outcomes = ["", "success", "failure"]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(60):
        rows.append(
            Connector(
                space=default_space,
                name=f"{names[i % len(names)]}{'' if i < len(names) else ' ' + str(i)}",
                connector_type_id=types[i % len(types)],
                config={},
                last_run_at=None if i % 5 == 0 else base + timedelta(minutes=i % 7),
                last_outcome=outcomes[i % 3],
            )
        )
    Connector.objects.bulk_create(rows)
    ids = list(Connector.objects.values_list("id", flat=True))
    for n, connector_id in enumerate(ids[:9]):
        Rule.objects.create(
            space=default_space,
            name=f"rule {n}",
            rule_type_id=".index-threshold",
            actions=[{"id": cid, "group": "g", "params": {}} for cid in ids[: 1 + n % 4]]
            + [{"id": connector_id}],
        )
    return default_space


def expected_order(space, sort_key, descending, search=""):
    from connectors.services import referenced_by_counts

    connectors = list(Connector.objects.filter(space=space))
    counts = referenced_by_counts(space.id, [c.id for c in connectors])
    keys = {}
    for c in connectors:
        info = TypeInfo.of(c.connector_type_id)
        if search and not any(search.lower() in t.lower() for t in (c.name, c.connector_type_id, info.name)):
            continue
        keys[c.id] = PYTHON_KEYS[sort_key](c, info, counts.get(c.id, 0))
    return keys, sorted(keys.values(), reverse=descending)


@pytest.mark.parametrize(
    "sort",
    ["name", "-name", "type", "-type", "rules", "-rules", "last_run", "-last_run", "outcome", "-outcome"],
)
def test_each_sort_pages_the_rows_in_the_order_python_sorted_them(admin_client, mixed_space, sort):
    descending, sort_key = sort.startswith("-"), sort.lstrip("-")

    first = admin_client.get(LIST, {"sort": sort}).content.decode()
    second = admin_client.get(LIST, {"sort": sort, "page": 2}).content.decode()

    keys, expected = expected_order(mixed_space, sort_key, descending)
    shown = listed_ids(first) + listed_ids(second)
    assert sorted(shown) == sorted(keys)  # every connector once, no page overlap
    assert [keys[connector_id] for connector_id in shown] == expected
    assert "Showing 10 of 60 connectors." in second


def test_search_matches_case_insensitively_as_python_lowers_and_takes_no_pattern(admin_client, default_space):
    for name in ["Émile’s hook", "100% done", "1000 done", "a_b", "axb", "Ops"]:
        Connector.objects.create(space=default_space, name=name, connector_type_id=".server-log", config={})

    def names(q, **more):
        page = admin_client.get(LIST, {"q": q, **more}).content.decode()
        return {c.name for c in Connector.objects.filter(id__in=listed_ids(page))}

    assert names("ÉMILE") == {"Émile’s hook"}
    assert names("100%") == {"100% done"}
    assert names("a_b") == {"a_b"}
    assert names("server log") == {"Émile’s hook", "100% done", "1000 done", "a_b", "axb", "Ops"}  # type name
    assert names("SERVER-LOG", type=".webhook") == set()
    assert names("DONE", type=".server-log") == {"100% done", "1000 done"}


def test_the_counts_and_type_choices_cover_the_space_not_the_page(admin_client, default_space):
    bulk_connectors(default_space, 70)
    Connector.objects.create(space=default_space, name="Old", connector_type_id=".retired-type", config={})
    other = Space.objects.create(id="other", name="Other")
    Connector.objects.create(space=other, name="Elsewhere", connector_type_id=".gone-elsewhere", config={})

    page = admin_client.get(LIST, {"type": ".webhook"}).content.decode()
    searched = admin_client.get(LIST, {"q": "connector 0006"}).content.decode()

    assert "Showing 24 of 24 connectors (71 in this space)." in page
    assert '<option value=".retired-type">.retired-type</option>' in page
    assert ".gone-elsewhere" not in page
    assert "Showing 10 of 10 connectors (71 in this space)." in searched


@pytest.mark.parametrize("read_at_once", [1000, 20])
@pytest.mark.parametrize("sort", ["name", "-type", "last_run"])
def test_a_search_is_counted_and_paged_whether_it_matches_more_than_it_reads_at_once_or_not(
    admin_client, mixed_space, monkeypatch, sort, read_at_once
):
    monkeypatch.setattr("connectors.admin.views.SEARCH_READ_AT_ONCE", read_at_once)
    monkeypatch.setattr("connectors.admin.views.PAGE_SIZE", 10)
    descending, sort_key = sort.startswith("-"), sort.lstrip("-")

    pages = [
        admin_client.get(LIST, {"sort": sort, "q": "A", "page": n}).content.decode() for n in (1, 2, 3, 4)
    ]

    keys, expected = expected_order(mixed_space, sort_key, descending, search="A")
    shown = [connector_id for page in pages for connector_id in listed_ids(page)]
    assert len(keys) == 36  # more than read_at_once=20, fewer than 1000
    assert sorted(shown) == sorted(keys)
    assert [keys[connector_id] for connector_id in shown] == expected
    assert "Showing 6 of 36 connectors (60 in this space)." in pages[3]
