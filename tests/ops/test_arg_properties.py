"""Property-based checks of the ops' argument validation (hypothesis): any integer
hyper-parameter is accepted exactly when it is in range, and any CARAFE call either agrees with
the float64 reference or is refused with a ValueError naming the op — never a kernel error."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from upbench.ops import carafe
from upbench.ops._checks import check_int
from upbench.ops.carafe import carafe_reference


@given(st.integers(-10, 10), st.integers(0, 3), st.booleans())
def test_check_int_accepts_exactly_the_valid_integers(value, minimum, odd):
    valid = value >= minimum and (not odd or value % 2 == 1)
    if valid:
        assert check_int(value, "k", "op", minimum, odd) == value
        assert check_int(float(value), "k", "op", minimum, odd) == value  # 3.0 is 3
    else:
        with pytest.raises(ValueError, match=r"^op: `k` must be"):
            check_int(value, "k", "op", minimum, odd)


@given(st.one_of(st.floats(allow_nan=True).filter(lambda f: not float(f).is_integer()),
                 st.text(max_size=3), st.booleans(), st.none()))
def test_check_int_refuses_non_integers_by_name(value):
    with pytest.raises(TypeError, match=r"^op: `k` must be (an integer|a finite number)"):
        check_int(value, "k", "op")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 2), c=st.integers(1, 4), h=st.integers(1, 4), w=st.integers(1, 4),
       k=st.sampled_from([-1, 0, 1, 2, 3, 5]), g=st.integers(0, 3), s=st.integers(0, 3),
       bad_dim=st.sampled_from([None, 0, 1, 2, 3]), data=st.data())
def test_carafe_agrees_or_refuses(native, n, c, h, w, k, g, s, bad_dim, data):
    kk, gg, ss = max(k, 1), max(g, 1), max(s, 1)
    shape = [n, gg * kk * kk, ss * h, ss * w]
    if bad_dim is not None:
        shape[bad_dim] += data.draw(st.sampled_from([-1, 1]))
    assume(min(shape) >= 1)
    gen = torch.Generator().manual_seed(n * 1000 + c * 100 + h * 10 + w)
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    masks = torch.randn(*shape, generator=gen, dtype=torch.float64).softmax(1)
    valid = (k >= 1 and k % 2 == 1 and g >= 1 and s >= 1 and c % g == 0 and bad_dim is None)
    if not valid:
        with pytest.raises(ValueError, match=r"^carafe: "):
            carafe(x, masks, k, g, s, impl="native")
        return
    got = carafe(x, masks, k, g, s, impl="native")
    torch.testing.assert_close(got, carafe_reference(x, masks, k, g, s), rtol=1e-10, atol=1e-12)
