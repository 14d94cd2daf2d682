"""Every energy refuses degenerate or malformed input with an error that names the argument.

No experts, no dimensions, inputs of the wrong width or rank, boxes of the
wrong length, strings, object and complex arrays: each is a ``ValueError`` or
``TypeError`` from the package, never one from NumPy or PyTensor.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest

import pymc_ebm
from pymc_ebm import (
    FASConstraints,
    Gaussian,
    Mixture,
    MLPEnergy,
    ProductOfExperts,
    StudentT,
    TopographicStudentT,
    UniGauss,
)


def _families() -> dict[str, pymc_ebm.Energy]:
    """One small energy of each family, all of dimension 2."""
    gauss = Gaussian(np.zeros((2, 2)), np.ones((2, 2)))
    return {
        "gaussian": gauss,
        "unigauss": UniGauss([[0.3, 0.3], [0.6, 0.5]], np.full((2, 2), 0.1), [0.5, 0.5]),
        "student_t": StudentT(np.eye(2), [2.0, 2.0]),
        "topographic": TopographicStudentT(np.eye(2), [1.0, 1.0], np.ones((2, 2))),
        "fas": FASConstraints([[1.0, -1.0]], [[1.0]], [-1.0], [1.0]),
        "mlp": MLPEnergy(2, hidden=(3,), box=(-1.0, 1.0), random_seed=0),
        "product": gauss * StudentT(np.eye(2), [2.0, 2.0]),
        "mixture": Mixture([gauss]),
    }


FAMILIES = _families()


# -- no experts, no dimensions -------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Gaussian(np.zeros((0, 2)), np.ones((0, 2))), r"mu must have at least one row"),
        (lambda: Gaussian(np.zeros((2, 0)), np.ones((2, 0))), r"mu must have at least one column"),
        (lambda: UniGauss(np.zeros((0, 2)), np.ones((0, 2)), []), "mu must have at least one row"),
        (lambda: UniGauss(np.zeros((1, 0)), np.ones((1, 0)), [0.5]), "mu must have at least one"),
        (lambda: StudentT(np.zeros((0, 2)), []), r"W must have at least one row \(one per expert"),
        (lambda: StudentT(np.zeros((2, 0)), [1.0, 1.0]), "W must have at least one column"),
        (
            lambda: TopographicStudentT(np.zeros((0, 2)), [1.0], np.ones((1, 0))),
            r"W must have at least one row \(one per filter",
        ),
        (
            lambda: TopographicStudentT(np.zeros((2, 0)), [1.0], np.ones((1, 2))),
            "W must have at least one column",
        ),
        (
            lambda: TopographicStudentT(np.eye(2), [], np.ones((0, 2))),
            r"V must have at least one row \(one per expert",
        ),
        (
            lambda: FASConstraints(np.zeros((0, 2)), np.ones((1, 0)), [0.0], [1.0]),
            "W must have at least one row",
        ),
        (
            lambda: FASConstraints(np.zeros((1, 0)), np.ones((1, 1)), [0.0], [1.0]),
            "W must have at least one column",
        ),
        (
            lambda: FASConstraints(np.eye(2), np.ones((0, 2)), [], []),
            r"U must have at least one row \(one per constraint unit",
        ),
        (lambda: MLPEnergy(0), "dim must be a positive integer"),
        (lambda: MLPEnergy(2, hidden=(4, 0)), "hidden layer sizes must be positive"),
        (lambda: ProductOfExperts([]), "experts must hold at least one expert"),
        (lambda: Mixture([]), "experts must hold at least one expert"),
    ],
)
def test_no_experts_or_no_dimensions_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# -- inputs of the wrong shape -------------------------------------------------------------
@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("bad", [np.zeros((3, 3)), np.zeros(2), np.zeros((1, 2, 1)), [["a", 1]]])
def test_energy_fn_refuses_the_wrong_shape(family, bad):
    evaluate = FAMILIES[family].energy_fn()
    with pytest.raises(ValueError, match=r"^v must (have shape \(n, 2\)|be an array of numbers)"):
        evaluate(bad)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_energy_fn_takes_lists_and_integers(family):
    energy = FAMILIES[family]
    evaluate = energy.energy_fn()
    np.testing.assert_array_equal(evaluate([[0, 0]]), evaluate(np.zeros((1, 2))))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_energy_refuses_numbers_and_tensors_of_the_wrong_shape(family):
    energy = FAMILIES[family]
    with pytest.raises(ValueError, match=r"v must have shape \(n, 2\), got shape \(3, 3\)"):
        energy.energy(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"v must have shape \(n, 2\), got a 1-d tensor"):
        energy.energy(pt.vector("v"))
    with pytest.raises(ValueError, match=r"got a 2-d tensor of shape \(\?, 3\)"):
        energy.energy(pt.tensor("v", shape=(None, 3)))
    with pytest.raises(TypeError, match="v must hold real numbers"):
        energy.energy(pt.matrix("v", dtype="complex128"))


def test_energy_of_numbers_is_the_compiled_value():
    """A numeric batch of the right shape is still accepted by ``energy``."""
    gauss = FAMILIES["gaussian"]
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    np.testing.assert_allclose(gauss.energy(x).eval(), gauss.energy_fn()(x), rtol=1e-12)


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("expert_log_density", ("gaussian", "unigauss", "mixture")),
        ("hidden_logits", ("unigauss",)),
        ("filter_outputs", ("student_t", "topographic")),
        ("pooled", ("topographic",)),
        ("constraint_outputs", ("fas",)),
        ("activities", ("mlp",)),
    ],
)
def test_every_method_on_v_checks_it(method, args):
    for family in args:
        with pytest.raises(ValueError, match=r"v must have shape \(n, 2\)"):
            getattr(FAMILIES[family], method)(np.zeros((4, 3)))


def test_joint_energy_checks_v_and_h():
    experts = FAMILIES["unigauss"]
    with pytest.raises(ValueError, match=r"v must have shape \(n, 2\)"):
        experts.joint_energy(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"h must have shape \(n, 2\), got shape \(4, 3\)"):
        experts.joint_energy(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"h must have shape \(n, 2\), got a 1-d tensor"):
        experts.joint_energy(pt.matrix("v"), pt.vector("h"))


# -- constructor arguments -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: UniGauss([[0.3, 0.3]], [[0.1, 0.1]], [0.5], low=[0, 0, 0]),
            r"low must be a number or have shape \(2,\), got shape \(3,\)",
        ),
        (
            lambda: UniGauss([[0.3, 0.3]], [[0.1, 0.1]], [0.5], high=np.ones((2, 2))),
            r"high must be a number or have shape \(2,\)",
        ),
        (
            lambda: MLPEnergy(2, box=([0, 0, 0], 1.0)),
            r"box low must be a number or have shape \(2,\)",
        ),
        (lambda: MLPEnergy(2, box=(0.0, 1.0, 2.0)), r"box must be a \(low, high\) pair"),
        (lambda: MLPEnergy(2, hidden=()), "hidden must list at least one layer size"),
        (lambda: MLPEnergy(2, hidden=(4, 2.5)), "hidden layer sizes must be positive integers"),
    ],
)
def test_bad_constructor_arguments_raise_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: MLPEnergy(2, hidden=16.0), "hidden must be a positive integer or a sequence"),
        (lambda: MLPEnergy(2, hidden="16"), "hidden must be a positive integer or a sequence"),
        (lambda: MLPEnergy(2, box=1.0), r"box must be a \(low, high\) pair"),
        (lambda: MLPEnergy(2, weights=3), "weights must be a sequence of arrays"),
        (lambda: ProductOfExperts(5), "must be a sequence of Energy objects"),
        (lambda: ProductOfExperts(FAMILIES["gaussian"]), "must be a sequence of Energy objects"),
    ],
)
def test_bad_constructor_types_raise_type_error(build, match):
    with pytest.raises(TypeError, match=match):
        build()


def test_mlp_takes_an_int_as_one_hidden_layer():
    one = MLPEnergy(2, hidden=16, random_seed=3)
    same = MLPEnergy(2, hidden=(16,), random_seed=3)
    assert one.hidden == (16,)
    for a, b in zip(one.params, same.params, strict=True):
        np.testing.assert_array_equal(a.get_value(), b.get_value())
    assert MLPEnergy(2, hidden=np.int64(4)).hidden == (4,)


OBJECT = np.array([[1, "a"]], dtype=object)
COMPLEX = np.array([[1.0 + 2.0j, 0.0]])


@pytest.mark.parametrize("bad", [OBJECT, COMPLEX], ids=["object", "complex"])
@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("mu", lambda x: Gaussian(x, np.ones((1, 2)))),
        ("sigma", lambda x: Gaussian(np.zeros((1, 2)), x)),
        ("mu", lambda x: UniGauss(x, np.ones((1, 2)), [0.5])),
        ("pi", lambda x: UniGauss(np.zeros((1, 2)), np.ones((1, 2)), x[0, 1:])),
        ("low", lambda x: UniGauss(np.zeros((1, 2)), np.ones((1, 2)), [0.5], low=x[0])),
        ("W", lambda x: StudentT(x, [1.0])),
        ("alpha", lambda x: StudentT(np.eye(2), x[0])),
        ("V", lambda x: TopographicStudentT(np.eye(2), [1.0], x)),
        ("U", lambda x: FASConstraints(np.eye(2), x, [0.0], [1.0])),
        ("b", lambda x: FASConstraints(np.eye(2), np.ones((1, 2)), x[0, 1:], [1.0])),
        ("box low", lambda x: MLPEnergy(2, box=(x[0], 1.0))),
        ("weights", lambda x: Mixture([Gaussian(np.zeros((2, 1)), np.ones((2, 1)))], x[0])),
    ],
)
def test_object_and_complex_arrays_are_refused(name, build, bad):
    with pytest.raises(ValueError, match=f"^{name} must be an array of numbers"):
        build(bad)


def test_set_params_refuses_strings():
    gauss = Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="parameter 'mu' must be an array of numbers"):
        gauss.set_params({"mu": OBJECT})
