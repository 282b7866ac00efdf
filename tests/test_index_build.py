"""`Index.build` groups items by (type, value) of a key; it has two ways of doing it (one
type of key and nulls, or a mix), and both must give what the plain definition gives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pmo_rules.evaluate.indexes import Index
from pmo_rules.values import type_name

KEYS = st.one_of(
    st.none(), st.booleans(), st.sampled_from(["a", "b", "1"]),
    st.sampled_from([Decimal(0), Decimal(1), Decimal("1.0")]),
    st.sampled_from([0, 1]), st.sampled_from([dt.date(2026, 1, 1), dt.date(2026, 1, 2)]),
    st.sampled_from([dt.datetime(2026, 1, 1)]), st.lists(st.integers(), max_size=1),
)
ITEMS = st.lists(st.one_of(st.fixed_dictionaries({"k": KEYS}), st.fixed_dictionaries({}),
                           st.fixed_dictionaries({"k": st.fixed_dictionaries({"n": KEYS})})), max_size=30)


def _naive(items, keys):
    buckets: dict = {}
    for pos, item in enumerate(items):
        value = item
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        try:
            buckets.setdefault((value.__class__, value), []).append(pos)
        except TypeError:
            return None
    return buckets


@given(ITEMS, st.sampled_from([("k",), ("k", "n")]))
def test_buckets_are_the_plain_grouping_by_type_and_value(items, keys):
    idx = Index.build(items, keys)
    expected = _naive(items, keys)
    if expected is None:  # an unhashable key: no index
        assert not idx.usable
        return
    if not idx.usable:  # a nested read of a non-record: left to the scan
        assert keys == ("k", "n")
        return
    assert idx.buckets == expected
    assert [list(b) for b in idx.buckets.values()] == list(expected.values())  # bucket order too
    assert idx.types == {type_name(v) for _, v in expected if v is not None}


def test_equal_values_of_different_types_stay_apart():
    items = [{"k": True}, {"k": 1}, {"k": Decimal(1)}, {"k": "1"}, {"k": None}, {}]
    idx = Index.build(items, ("k",))
    assert idx.buckets == {(bool, True): [0], (int, 1): [1], (Decimal, Decimal(1)): [2], (str, "1"): [3],
                           (type(None), None): [4, 5]}
    one_type = Index.build([{"k": "x"}, {"k": None}, {"k": "x"}], ("k",))
    assert one_type.buckets == {(str, "x"): [0, 2], (type(None), None): [1]} and one_type.types == {"text"}


def test_all_different_keys_are_kept_as_positions_and_read_back_as_groups():
    items = [{"k": "a"}, {"k": "b"}, {"k": None}, {"k": "c"}]
    idx = Index.build(items, ("k",))
    assert idx.unique and idx.plain == {"a": 0, "b": 1, None: 2, "c": 3}
    assert [idx.lookup(v) for v in ("b", None, "z")] == [[1], [2], []]
    assert idx.lookup(Decimal(1)) is None  # another type: the scan meets the error
    assert idx.buckets == {(str, "a"): [0], (str, "b"): [1], (type(None), None): [2], (str, "c"): [3]}
    same = Index.build([{"k": Decimal(1)}, {"k": Decimal("1.0")}], ("k",))  # equal: one group
    assert not same.unique and same.lookup(Decimal("1.00")) == [0, 1]
