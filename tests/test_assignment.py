"""Round robin, as a pure function."""

from hypothesis import given
from hypothesis import strategies as st

from wagtail_livechat.assignment import next_assignee


def test_first_turn_goes_to_lowest_id():
    assert next_assignee([5, 3, 9], {3, 5, 9}, None) == 3


def test_turn_passes_to_next_and_wraps():
    assert next_assignee([3, 5, 9], {3, 5, 9}, 3) == 5
    assert next_assignee([3, 5, 9], {3, 5, 9}, 5) == 9
    assert next_assignee([3, 5, 9], {3, 5, 9}, 9) == 3


def test_unavailable_members_are_skipped():
    assert next_assignee([3, 5, 9], {3, 9}, 3) == 9


def test_last_assignee_no_longer_a_candidate():
    assert next_assignee([3, 9], {3, 9}, 5) == 9


def test_nobody_available():
    assert next_assignee([3, 5], set(), None) is None
    assert next_assignee([], {1}, None) is None


@given(st.sets(st.integers(1, 50), min_size=1, max_size=8), st.integers(1, 200))
def test_round_robin_is_fair(members, rounds):
    counts = dict.fromkeys(members, 0)
    last = None
    for _ in range(rounds):
        last = next_assignee(members, members, last)
        counts[last] += 1
    assert max(counts.values()) - min(counts.values()) <= 1
