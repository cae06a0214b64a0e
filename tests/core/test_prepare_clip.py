"""``clip=eps`` (:func:`bcelab._core.prepare.clip_bound`): the ends ``[eps, 1 - eps]`` in
the input dtype, formed on the host, so the option works under ``jax.jit``,
``torch.compile`` (without graph breaks) and ``torch.func`` transforms.

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples of the fuzz property.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bcelab
from bcelab._core.prepare import round_to_format
from tests.fuzzing import float_dtypes, fuzz

P = np.array([0.2, 1.0, 0.0, 0.7], np.float32)
Y = np.array([1.0, 0.0, 1.0, 0.25], np.float32)


@fuzz
@given(
    x=st.floats(0.0, 1.0, exclude_max=True)
    | st.floats(0.0, 1e-3)
    | st.floats(0.0, 1e-36)
    | st.floats(0.999, 1.0, exclude_max=True)
)
def test_fuzz_round_to_format_is_what_an_array_of_the_dtype_stores(x):
    ml_dtypes = pytest.importorskip("ml_dtypes")  # NumPy's bfloat16 and its finfo
    for dt in float_dtypes():
        got = round_to_format(x, ml_dtypes.finfo(dt))
        assert got == float(np.asarray(x, dtype=dt)), (x, dt)


def test_round_to_format_with_torch_and_jax_finfo() -> None:
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    for x in (1e-7, 1.0 - 1e-7, 1e-3, 1.0 - 1e-3, 0.1, 3e-8, 1e-45):
        for t_dt, j_dt in ((torch.float16, jnp.float16), (torch.bfloat16, jnp.bfloat16)):
            want = float(np.asarray(x, dtype=np.dtype(j_dt)))
            assert round_to_format(x, torch.finfo(t_dt)) == want
            assert round_to_format(x, jnp.finfo(j_dt)) == want
        for t_dt, n_dt in ((torch.float32, np.float32), (torch.float64, np.float64)):
            want = float(np.asarray(x, dtype=n_dt))
            assert round_to_format(x, torch.finfo(t_dt)) == want


def test_clip_under_jax_jit_gives_the_eager_numbers() -> None:
    # before: float() of a traced array in clip_bound raised ConcretizationTypeError
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    p, y = jnp.asarray(P), jnp.asarray(Y)
    for fn in (bcelab.bce, bcelab.bce_grad):
        eager = fn(p, y, clip=1e-7)
        jitted = jax.jit(lambda a, b, fn=fn: fn(a, b, clip=1e-7))(p, y)
        np.testing.assert_array_equal(np.asarray(jitted), np.asarray(eager))
    # float32: the ends are 1e-7 and 0.99999988, as in Keras
    np.testing.assert_allclose(
        np.asarray(jax.jit(lambda a, b: bcelab.bce(a, b, clip=1e-7))(p, y)),
        bcelab.bce(P, Y, clip=1e-7),
        rtol=1e-6,
    )

    def loss(a: object) -> object:
        return bcelab.bce(a, y, clip=1e-7, reduction="mean")

    np.testing.assert_array_equal(
        np.asarray(jax.jit(jax.grad(loss))(p)), np.asarray(jax.grad(loss)(p))
    )


def test_clip_the_dtype_cannot_represent_is_refused_under_jax_jit() -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    f = jax.jit(lambda a, b: bcelab.bce(a, b, clip=1e-7))
    with pytest.raises(
        bcelab.OptionError, match=r"1 - 1e-07 rounds to 1\.0.*clip >= 0\.0009765625"
    ):
        f(jnp.asarray(P, jnp.float16), jnp.asarray(Y))


def test_clip_under_torch_compile_has_no_graph_break_and_under_vmap() -> None:
    # before: float() of a tensor in clip_bound broke the graph (Tensor.item())
    torch = pytest.importorskip("torch")
    dynamo = pytest.importorskip("torch._dynamo")

    p, y = torch.tensor(P), torch.tensor(Y)
    eager = bcelab.bce(p, y, clip=1e-7)
    dynamo.reset()
    explained = dynamo.explain(lambda a, b: bcelab.bce(a, b, clip=1e-7))(p, y)
    assert explained.graph_break_count == 0, explained.break_reasons
    compiled = torch.compile(lambda a, b: bcelab.bce(a, b, clip=1e-7), fullgraph=True)
    torch.testing.assert_close(compiled(p, y), eager, rtol=1e-6, atol=0)
    batched = torch.func.vmap(lambda a, b: bcelab.bce(a, b, clip=1e-7))(
        p.expand(3, -1), y.expand(3, -1)
    )
    torch.testing.assert_close(batched, eager.expand(3, -1), rtol=0, atol=0)
    g = torch.func.vmap(torch.func.grad(lambda a, b: bcelab.bce(a, b, clip=1e-7).sum()))(
        p.expand(3, -1), y.expand(3, -1)
    )
    torch.testing.assert_close(g, bcelab.bce_grad(p, y, clip=1e-7).expand(3, -1))
