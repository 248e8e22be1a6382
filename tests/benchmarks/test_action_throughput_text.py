from benchmarks.action_throughput import _per_write_text


def test_a_row_that_ended_before_any_heartbeat_says_so_instead_of_nan():
    assert _per_write_text(float("nan")) == "events per journal write: no heartbeat yet"


def test_a_row_with_heartbeats_prints_the_events_per_journal_write():
    assert _per_write_text(84.84) == "84.8 events per journal write"
