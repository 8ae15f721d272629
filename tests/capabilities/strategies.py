"""Hypothesis strategies shared by the capability tests."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from zones.capabilities.values import CapabilityValue

FAST = settings(max_examples=150, deadline=None, database=None)

# A small alphabet of keys so that sources collide on keys, and values of every type
# (including integral floats so that sources collide on numbers too).
KEYS = st.sampled_from(["a", "b", "gpu", "os"])
VALUES: st.SearchStrategy[CapabilityValue] = st.one_of(
    st.sampled_from(["linux", "windows", "na", ""]),
    # Capability strings are printable Unicode: control characters and lone surrogates are
    # refused at the door.
    st.text(
        st.characters(min_codepoint=32, exclude_characters="\x7f", exclude_categories=["Cs"]),
        max_size=4,
    ),
    st.integers(min_value=-4, max_value=4).map(float),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
SOURCE = st.dictionaries(KEYS, VALUES, max_size=4)
