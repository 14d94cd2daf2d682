"""The HMC kernel on its own, without a pm.Model: known targets, the hooks, the guard."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from pymc_ebm.step_methods.hmc_kernel import (
    MAX_ENERGY_ERROR,
    build_kernel,
    init,
    potential_from_fn,
    potential_from_graph,
    run_trajectories,
)

Z = 4.0  # z threshold of every Monte Carlo check below (a handful of assertions each)


def compile_transition(kernel, n_blocks=1, dtype="float64"):
    """``f(q, v, log_u, eps) -> (q', accept_prob, accepted, diverging, energy_error, energy)``."""
    qs = [pt.matrix(f"q{i}", dtype=dtype) for i in range(n_blocks)]
    vs = [pt.matrix(f"v{i}", dtype=dtype) for i in range(n_blocks)]
    log_u = pt.vector("log_u", dtype=dtype)
    eps = pt.scalar("eps", dtype=dtype)
    new, info = kernel(init(kernel, qs), vs, log_u, eps)
    return pytensor.function(
        [*qs, *vs, log_u, eps],
        [*new.position, new.potential, *info],
        on_unused_input="ignore",
    )


def sample(fn, q, rng, n_draws, eps, inv_mass=None):
    """Run the compiled transition ``n_draws`` times from ``q``; every draw's rows, stacked."""
    draws = np.empty((n_draws, *q.shape))
    for t in range(n_draws):
        v = rng.standard_normal(q.shape)
        if inv_mass is not None:
            v = np.sqrt(inv_mass) * v
        log_u = np.log(rng.random(q.shape[0]))
        q = fn(q, v, log_u, eps)[0]
        draws[t] = q
    return draws


def assert_moments(draws, mean, var, burn=100):
    """|mean - truth| and |mean(x²) - truth| within Z Monte Carlo standard errors (batch means)."""
    x = draws[burn:].reshape(-1, draws.shape[-1])
    for stat, truth in ((x, mean), ((x - mean) ** 2, var)):
        n_batch = 20
        batches = np.array_split(stat, n_batch)
        means = np.array([b.mean(axis=0) for b in batches])
        mcse = means.std(axis=0, ddof=1) / np.sqrt(n_batch)
        assert np.all(np.abs(stat.mean(axis=0) - truth) < Z * mcse + 1e-12), (
            stat.mean(axis=0),
            truth,
            mcse,
        )


def gaussian(sigma):
    sigma = np.asarray(sigma, dtype=float)
    return potential_from_fn(lambda qs: 0.5 * pt.sum((qs[0] / sigma) ** 2, axis=1))


def test_leapfrog_end_point_is_exact_on_the_harmonic_oscillator_and_always_accepted():
    kernel = build_kernel(gaussian([1.0]), n_steps=20)
    fn = compile_transition(kernel)
    q0, v0 = np.array([[1.0], [0.0]]), np.array([[0.0], [1.0]])
    q, u, accept_prob, accepted, diverging, energy_error, finite, energy = fn(
        q0, v0, np.full(2, -np.inf), 0.05
    )
    # 20 kick-drift-kick steps in NumPy, and the exact flow to O(ε²)
    q_ref, v_ref = q0[:, 0].copy(), v0[:, 0].copy()
    for _ in range(20):
        v_ref -= 0.025 * q_ref
        q_ref += 0.05 * v_ref
        v_ref -= 0.025 * q_ref
    np.testing.assert_allclose(q[:, 0], q_ref, rtol=1e-12)
    np.testing.assert_allclose(q[:, 0], [np.cos(1.0), np.sin(1.0)], atol=1e-3)
    np.testing.assert_allclose(u, 0.5 * q[:, 0] ** 2)
    assert accepted.all() and not diverging.any() and finite.all()
    # the energy error is the change of the Hamiltonian, O(ε²), and accept_prob its exp
    assert np.all(np.abs(energy_error) < 1e-3)
    np.testing.assert_allclose(accept_prob, np.exp(np.minimum(0.0, -energy_error)))
    np.testing.assert_allclose(energy, 0.5, atol=1e-3)  # H = ½ for both rows


def test_per_row_test_samples_a_gaussian_with_a_diagonal_mass():
    sigma = np.array([0.1, 1.0, 5.0])
    inv_mass = sigma**2
    kernel = build_kernel(gaussian(sigma), n_steps=5, inv_mass=[pt.constant(inv_mass)])
    fn = compile_transition(kernel)
    rng = np.random.default_rng(0)
    draws = sample(fn, np.zeros((50, 3)), rng, 600, 0.5, inv_mass=inv_mass)
    assert_moments(draws, np.zeros(3), sigma**2)


def test_joint_test_accepts_or_rejects_the_whole_block():
    kernel = build_kernel(
        potential_from_fn(lambda qs: pt.sum(0.5 * qs[0] ** 2)[None]), n_steps=3, per_row=False
    )
    fn = compile_transition(kernel)
    rng = np.random.default_rng(1)
    q = rng.standard_normal((4, 2))
    moved = []
    for _ in range(200):
        new = fn(q, rng.standard_normal(q.shape), np.log(rng.random(1)), 1.4)
        change = np.any(new[0] != q, axis=1)
        assert change.all() or not change.any()
        moved.append(change.all())
        q = new[0]
    assert 0 < np.mean(moved) < 1  # both outcomes occur at this step size


def test_mask_keeps_entries_fixed_and_samples_the_conditional():
    # (x, y) standard bivariate normal with correlation 0.8; y fixed at 1 in every row:
    # x | y ~ N(0.8, 1 - 0.64)
    rho = 0.8

    def u(qs):
        x, y = qs[0][:, 0], qs[0][:, 1]
        return (x**2 - 2 * rho * x * y + y**2) / (2 * (1 - rho**2))

    mask = pt.constant(np.array([[True, False]] * 40))
    kernel = build_kernel(potential_from_fn(u), n_steps=4, mask=[mask])
    fn = compile_transition(kernel)
    rng = np.random.default_rng(2)
    q = np.column_stack([np.zeros(40), np.ones(40)])
    draws = sample(fn, q, rng, 800, 0.4)
    assert np.all(draws[:, :, 1] == 1.0)
    assert_moments(draws[:, :, :1], np.array([rho]), np.array([1 - rho**2]))


def test_validity_hook_rejects_proposals_outside_the_support():
    # flat density on the unit square: only the box check keeps the chains inside
    kernel = build_kernel(
        potential_from_fn(lambda qs: pt.zeros_like(qs[0][:, 0])),
        n_steps=2,
        valid=lambda qs: pt.all((qs[0] > 0) & (qs[0] < 1), axis=1),
    )
    fn = compile_transition(kernel)
    rng = np.random.default_rng(3)
    draws = sample(fn, np.full((40, 2), 0.5), rng, 600, 0.3)
    assert np.all((draws > 0) & (draws < 1))
    assert_moments(draws, np.full(2, 0.5), np.full(2, 1 / 12))


def test_non_finite_proposals_are_rejected_and_counted_as_diverging():
    # U = -log(q) - log(1 - q) on (0, 1): NaN outside, so a long step leaves and is refused
    kernel = build_kernel(
        potential_from_fn(lambda qs: -pt.sum(pt.log(qs[0]) + pt.log(1 - qs[0]), axis=1)),
        n_steps=1,
    )
    fn = compile_transition(kernel)
    q0 = np.full((3, 1), 0.5)
    v0 = np.array([[10.0], [-10.0], [0.01]])
    q, u, accept_prob, accepted, diverging, energy_error, finite, energy = fn(
        q0, v0, np.full(3, -np.inf), 1.0
    )
    np.testing.assert_array_equal(finite, [False, False, True])
    np.testing.assert_array_equal(diverging, [True, True, False])
    np.testing.assert_array_equal(accepted, [False, False, True])
    np.testing.assert_array_equal(q[:2], q0[:2])  # rejected rows keep their exact value
    np.testing.assert_array_equal(energy_error[:2], [0.0, 0.0])
    np.testing.assert_array_equal(accept_prob[:2], [0.0, 0.0])
    # the kept state's Hamiltonian: the start with its momentum where rejected
    np.testing.assert_allclose(energy[:2], 2 * np.log(2.0) + 50.0)


def test_a_huge_energy_rise_counts_as_diverging():
    kernel = build_kernel(gaussian([1.0]), n_steps=1)
    fn = compile_transition(kernel)
    out = fn(np.zeros((1, 1)), np.array([[100.0]]), np.zeros(1), 1.0)
    diverging, energy_error = out[4], out[5]
    assert energy_error[0] > MAX_ENERGY_ERROR and diverging[0]


def test_graph_and_function_potentials_give_the_same_transition():
    q = pt.matrix("q")
    u = 0.5 * pt.sum(q**2 * np.array([1.0, 4.0]), axis=1) + pt.sum(pt.cos(q), axis=1)
    by_graph = build_kernel(potential_from_graph(u, [q]), n_steps=7)
    by_fn = build_kernel(
        potential_from_fn(
            lambda qs: (
                0.5 * pt.sum(qs[0] ** 2 * np.array([1.0, 4.0]), axis=1)
                + pt.sum(pt.cos(qs[0]), axis=1)
            )
        ),
        n_steps=7,
    )
    rng = np.random.default_rng(4)
    args = (rng.standard_normal((5, 2)), rng.standard_normal((5, 2)), np.log(rng.random(5)), 0.2)
    by_graph_out, by_fn_out = compile_transition(by_graph)(*args), compile_transition(by_fn)(*args)
    for a, b in zip(by_graph_out, by_fn_out, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_several_trajectories_are_the_kernel_applied_in_turn():
    kernel = build_kernel(gaussian([1.0, 2.0]), n_steps=3)
    n = 4
    q = pt.matrix("q")
    v = pt.tensor3("v")
    log_u = pt.matrix("log_u")
    eps = pt.vector("eps")
    end, info = run_trajectories(kernel, init(kernel, [q]), [v], log_u, eps, n)
    many = pytensor.function([q, v, log_u, eps], [end.position[0], info.accepted])
    one = compile_transition(kernel)
    rng = np.random.default_rng(5)
    q0 = rng.standard_normal((6, 2))
    vs = rng.standard_normal((n, 6, 2))
    us = np.log(rng.random((n, 6)))
    steps = rng.uniform(0.5, 1.5, n)
    q_many, accepted = many(q0, vs, us, steps)
    q_turn = q0
    for t in range(n):
        out = one(q_turn, vs[t], us[t], steps[t])
        np.testing.assert_array_equal(out[3], accepted[t])
        q_turn = out[0]
    np.testing.assert_allclose(q_many, q_turn, rtol=1e-12)


@pytest.mark.parametrize("n_steps", [0, -1, 1.5, True])
def test_build_kernel_refuses_a_bad_number_of_steps(n_steps):
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        build_kernel(gaussian([1.0]), n_steps=n_steps)
