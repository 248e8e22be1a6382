"""`.index-threshold` over the local document store: aggregations, groups, filters, windows."""

from datetime import UTC, datetime, timedelta

import pytest

from actions.rule_types.index_threshold import IndexThresholdRuleType, validate_threshold_params
from tests.actions.helpers import add_documents

NOW = datetime.now(UTC)  # documents are stamped with it, so the window does not depend on test order


def params(**overrides):
    base = {
        "index": "web-*",
        "timeField": "@timestamp",
        "aggType": "count",
        "thresholdComparator": ">",
        "threshold": [0],
        "timeWindowSize": 5,
        "timeWindowUnit": "m",
    }
    base.update(overrides)
    return validate_threshold_params(base)


@pytest.fixture
def documents(db):
    add_documents(
        "web-1", [{"host": "a", "bytes": 10}, {"host": "a", "bytes": 30}, {"host": "b", "bytes": 5}], at=NOW
    )
    add_documents("web-2", [{"host": "c", "bytes": 100, "status": 500}], at=NOW)
    add_documents("web-1", [{"host": "a", "bytes": 1000}], at=NOW - timedelta(hours=1))  # outside the window
    add_documents("other", [{"host": "a", "bytes": 1}], at=NOW)


def evaluate(p):
    return IndexThresholdRuleType().evaluate(p, NOW + timedelta(seconds=1))[0]


def test_count_over_index_patterns_and_the_time_window(documents):
    assert evaluate(params()) == {"all documents": 4}


def test_avg_sum_min_max_over_a_field(documents):
    assert evaluate(params(aggType="avg", aggField="bytes")) == {"all documents": 36.25}
    assert evaluate(params(aggType="sum", aggField="bytes")) == {"all documents": 145}
    assert evaluate(params(aggType="min", aggField="bytes")) == {"all documents": 5}
    assert evaluate(params(aggType="max", aggField="bytes")) == {"all documents": 100}


def test_top_groups_meet_the_threshold_each(documents):
    found = evaluate(params(groupBy="top", termField="host.keyword", termSize=10, threshold=[1]))
    assert found == {"a": 2}
    found = evaluate(
        params(groupBy="top", termField="host", termSize=2, aggType="max", aggField="bytes", threshold=[20])
    )
    assert found == {"c": 100, "a": 30}


def test_a_kql_filter_narrows_the_documents(documents):
    assert evaluate(params(filterKuery="host: a and bytes >= 20")) == {"all documents": 1}
    assert evaluate(params(filterKuery="status: 500 or host: b")) == {"all documents": 2}
    assert evaluate(params(filterKuery="not host: (a or b)")) == {"all documents": 1}


def test_between_and_not_between(documents):
    assert evaluate(params(thresholdComparator="between", threshold=[4, 4])) == {"all documents": 4}
    assert evaluate(params(thresholdComparator="notBetween", threshold=[1, 10])) == {}


def test_a_bad_kql_filter_is_a_params_error():
    from actions.rule_types import ParamsInvalid

    with pytest.raises(ParamsInvalid, match=r"\[filterKuery\]: Filter query is invalid\."):
        params(filterKuery="host: (a or")
