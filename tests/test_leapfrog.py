"""Tests of the leapfrog integrator: reversibility, second-order energy error, exact orbits."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from pymc_ebm.step_methods.leapfrog import compile_leapfrog, leapfrog, leapfrog_state

N_STEPS = 25


def _anharmonic(q):
    """A smooth non-quadratic potential (Student-t log terms plus a quartic)."""
    return pt.sum(1.5 * pt.log1p(0.5 * q**2) + 0.05 * q**4)


def _anharmonic_np(q):
    return np.sum(1.5 * np.log1p(0.5 * q**2) + 0.05 * q**4)


@pytest.fixture(scope="module")
def one_step():
    """A single (unrolled) leapfrog step for the anharmonic potential."""
    return compile_leapfrog(_anharmonic, 1, dtype="float64")


@pytest.fixture(scope="module")
def many_steps():
    """N_STEPS leapfrog steps in one ``pytensor.scan`` for the anharmonic potential."""
    return compile_leapfrog(_anharmonic, N_STEPS, unroll=False, dtype="float64")


@pytest.fixture
def start():
    rng = np.random.default_rng(20240611)
    return rng.normal(size=3), rng.normal(size=3)


def test_scan_matches_repeated_single_steps(one_step, many_steps, start):
    q0, p0 = start
    q, p = q0, p0
    for _ in range(N_STEPS):
        q, p = one_step(q, p, 0.1)
    q_scan, p_scan = many_steps(q0, p0, 0.1)
    np.testing.assert_allclose(q_scan, q, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p_scan, p, rtol=1e-12, atol=1e-12)
    assert not np.allclose(q_scan, q0)


def test_time_reversible(many_steps, start):
    q0, p0 = start
    q1, p1 = many_steps(q0, p0, 0.2)
    assert np.max(np.abs(q1 - q0)) > 0.5
    q2, p2 = many_steps(q1, p1, -0.2)
    np.testing.assert_allclose(q2, q0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(p2, p0, rtol=0, atol=1e-10)


def test_energy_error_is_second_order(one_step, start):
    q0, p0 = start
    h0 = _anharmonic_np(q0) + 0.5 * p0 @ p0
    max_errors = []
    for eps in (0.1, 0.05, 0.025):
        q, p, errors = q0, p0, []
        for _ in range(round(4.0 / eps)):
            q, p = one_step(q, p, eps)
            errors.append(abs(_anharmonic_np(q) + 0.5 * p @ p - h0))
        max_errors.append(max(errors))
    ratios = np.array(max_errors[:-1]) / np.array(max_errors[1:])
    assert max_errors[0] > 1e-4
    np.testing.assert_array_less(3.6, ratios)
    np.testing.assert_array_less(ratios, 4.4)


def test_harmonic_oscillator_follows_exact_orbit():
    """U = ½|q|²: q(t) = q0 cos t + p0 sin t; leapfrog stays within O(ε²) of it."""
    step = compile_leapfrog(lambda q: 0.5 * pt.sum(q**2), 1, ndim=2, dtype="float64")
    q0 = np.array([[1.0, -0.5], [0.0, 2.0]])
    p0 = np.array([[0.0, 1.0], [-1.5, 0.3]])
    max_errors = []
    for eps in (0.1, 0.05):
        q, p, errors = q0, p0, []
        for i in range(1, round(2 * np.pi / eps) + 1):
            q, p = step(q, p, eps)
            exact = q0 * np.cos(i * eps) + p0 * np.sin(i * eps)
            errors.append(np.max(np.abs(q - exact)))
        max_errors.append(max(errors))
        assert max_errors[-1] < eps**2
    assert 3.6 < max_errors[0] / max_errors[1] < 4.4


def test_several_blocks_match_one_block():
    """Positions split over two blocks integrate exactly like their concatenation."""
    a, b, pa, pb = (pt.vector(name, dtype="float64") for name in ("a", "b", "pa", "pb"))
    joint_q, joint_p = pt.vector("q", dtype="float64"), pt.vector("p", dtype="float64")

    def grad_blocks(qs):
        x = pt.concatenate(qs)
        g = pt.grad(_anharmonic(x), x)
        return [g[:2], g[2:]]

    (a1, b1), (pa1, pb1) = leapfrog([a, b], [pa, pb], 0.1, 3, grad_blocks)
    q1, p1 = leapfrog(joint_q, joint_p, 0.1, 3, lambda q: pt.grad(_anharmonic(q), q))
    f = pytensor.function([a, b, pa, pb, joint_q, joint_p], [a1, b1, pa1, pb1, q1, p1])
    rng = np.random.default_rng(7)
    q0, p0 = rng.normal(size=3), rng.normal(size=3)
    a_out, b_out, pa_out, pb_out, q_out, p_out = f(q0[:2], q0[2:], p0[:2], p0[2:], q0, p0)
    np.testing.assert_allclose(np.concatenate([a_out, b_out]), q_out, rtol=1e-12)
    np.testing.assert_allclose(np.concatenate([pa_out, pb_out]), p_out, rtol=1e-12)


@pytest.mark.parametrize("n_steps", [0, -1, 2.5, True])
def test_bad_n_steps_raises(n_steps):
    q = pt.vector("q")
    with pytest.raises(ValueError, match="n_steps"):
        leapfrog_state([q], [q], 0.1, n_steps, lambda qs: qs)
