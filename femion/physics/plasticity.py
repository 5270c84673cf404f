"""J2 (von Mises) plasticity with linear isotropic hardening: vectorised radial return.

Equations (small strain, rate-independent)
---------------------------------------------------------
Additive split ε = εᵉ + εᵖ + ε*, with ε* a given eigenstrain (Vegard). Stress
σ = K tr(εᵉ) 1 + 2G dev(εᵉ). Yield function

    f(σ, α) = q − (σ_y + H α),       q = √(3/2 s:s),  s = dev σ,

with equivalent plastic strain α (work-conjugate to q, dα = √(2/3)‖dεᵖ‖),
initial yield stress σ_y and linear isotropic hardening modulus H. Associative
flow dεᵖ = dγ (3/2) s/q.

Backward-Euler integration gives the radial return of Wilkins (1964) in the
form of Simo & Taylor (Comput. Methods Appl. Mech. Eng. 48, 101, 1985;
Simo & Hughes, *Computational Inelasticity*, Springer 1998, Box 3.2): from the
elastic trial stress s_tr with q_tr, if f_tr = q_tr − σ_y − H α_n > 0,

    Δγ = f_tr / (3G + H),   s = (1 − 3G Δγ / q_tr) s_tr,
    εᵖ = εᵖ_n + √(3/2) Δγ N,  α = α_n + Δγ,   N = s_tr/‖s_tr‖,

exact for linear hardening (one step, no local iteration). The consistent
(algorithmic) tangent, needed for quadratic Newton convergence (de Souza Neto,
Perić & Owen, *Computational Methods for Plasticity*, Wiley 2008, Eq. 7.120):

    D = K 1⊗1 + 2G (1 − 3GΔγ/q_tr) I_dev + 6G² (Δγ/q_tr − 1/(3G + H)) N⊗N.

Notation
--------
Axisymmetric tensors are stored as Mandel 4-vectors ``(rr, zz, θθ, √2 rz)``:
then σ:ε is the plain dot product, tangents are symmetric 4×4 matrices and
``‖s‖`` is the Euclidean norm. :func:`to_mandel` / :func:`from_mandel` convert
from/to the tensor components (rr, zz, θθ, rz).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "IDENTITY",
    "ReturnMapping",
    "deviatoric_projector",
    "elastic_tangent",
    "from_mandel",
    "j2_return_mapping",
    "mean_stress",
    "to_mandel",
    "von_mises",
]

SQRT2 = np.sqrt(2.0)
IDENTITY = np.array([1.0, 1.0, 1.0, 0.0])
"""Second-order identity tensor as a Mandel 4-vector (rr, zz, θθ, √2 rz)."""


def to_mandel(tensor: np.ndarray) -> np.ndarray:
    """Tensor components (rr, zz, θθ, rz) → Mandel (rr, zz, θθ, √2 rz); last axis of length 4."""
    out = np.array(tensor, dtype=float, copy=True)
    out[..., 3] *= SQRT2
    return out


def from_mandel(vector: np.ndarray) -> np.ndarray:
    """Mandel (rr, zz, θθ, √2 rz) → tensor components (rr, zz, θθ, rz); last axis of length 4."""
    out = np.array(vector, dtype=float, copy=True)
    out[..., 3] /= SQRT2
    return out


def deviatoric_projector() -> np.ndarray:
    """I_dev = I − (1/3) 1⊗1 in Mandel form, shape (4, 4)."""
    return np.eye(4) - np.outer(IDENTITY, IDENTITY) / 3.0


def elastic_tangent(bulk: np.ndarray, shear: np.ndarray) -> np.ndarray:
    """Isotropic elasticity C = K 1⊗1 + 2G I_dev (Mandel), shape (..., 4, 4).

    Parameters
    ----------
    bulk, shear : ndarray
        Bulk modulus K [Pa] and shear modulus G [Pa], broadcastable shapes (...).
    """
    bulk = np.asarray(bulk, dtype=float)[..., None, None]
    shear = np.asarray(shear, dtype=float)[..., None, None]
    return bulk * np.outer(IDENTITY, IDENTITY) + 2.0 * shear * deviatoric_projector()


def mean_stress(stress: np.ndarray) -> np.ndarray:
    """σ_m = tr σ / 3 [Pa] of Mandel stresses, shape (...)."""
    return np.asarray(stress)[..., :3].sum(axis=-1) / 3.0


def von_mises(stress: np.ndarray) -> np.ndarray:
    """Equivalent (von Mises) stress q = √(3/2 s:s) [Pa] of Mandel stresses, shape (...)."""
    stress = np.asarray(stress, dtype=float)
    deviator = stress - mean_stress(stress)[..., None] * IDENTITY
    return np.sqrt(1.5 * np.sum(deviator**2, axis=-1))


@dataclass(frozen=True)
class ReturnMapping:
    """Result of :func:`j2_return_mapping` at n material points.

    Attributes
    ----------
    stress : ndarray, shape (n, 4)
        Mandel stress [Pa].
    plastic_strain : ndarray, shape (n, 4)
        Updated Mandel plastic strain εᵖ [1].
    equivalent_plastic_strain : ndarray, shape (n,)
        Updated α [1].
    tangent : ndarray, shape (n, 4, 4)
        Consistent tangent dσ/dε [Pa] (the elastic C at elastic points).
    yielding : ndarray of bool, shape (n,)
        Points that returned to the yield surface in this update.
    increment : ndarray, shape (n,)
        Δγ = Δα [1].
    """

    stress: np.ndarray
    plastic_strain: np.ndarray
    equivalent_plastic_strain: np.ndarray
    tangent: np.ndarray
    yielding: np.ndarray
    increment: np.ndarray


def j2_return_mapping(
    strain: np.ndarray,
    plastic_strain: np.ndarray,
    equivalent_plastic_strain: np.ndarray,
    bulk: np.ndarray,
    shear: np.ndarray,
    yield_stress: np.ndarray,
    hardening: np.ndarray,
) -> ReturnMapping:
    """Radial return for J2 plasticity with linear isotropic hardening (vectorised).

    Parameters
    ----------
    strain : ndarray, shape (n, 4)
        Total strain minus eigenstrain, ε − ε*, Mandel [1], at the end of the step.
    plastic_strain : ndarray, shape (n, 4)
        εᵖ at the start of the step (Mandel) [1].
    equivalent_plastic_strain : ndarray, shape (n,)
        α at the start of the step [1].
    bulk, shear : ndarray, shape (n,)
        K, G [Pa].
    yield_stress : ndarray, shape (n,)
        Initial yield stress σ_y [Pa]; ``inf`` for a purely elastic point.
    hardening : ndarray, shape (n,)
        Linear isotropic hardening modulus H [Pa] (H = 0: perfect plasticity).

    Returns
    -------
    ReturnMapping

    Raises
    ------
    ValueError
        On mismatched shapes, negative hardening, or non-positive moduli.
    """
    strain = np.asarray(strain, dtype=float)
    n = strain.shape[0]
    if strain.shape != (n, 4) or np.shape(plastic_strain) != (n, 4):
        raise ValueError(f"strain and plastic_strain must have shape (n, 4); got {strain.shape}, {np.shape(plastic_strain)}")
    bulk, shear, yield_stress, hardening, alpha = (
        np.broadcast_to(np.asarray(x, dtype=float), (n,)) for x in (bulk, shear, yield_stress, hardening, equivalent_plastic_strain)
    )
    if np.any(bulk <= 0.0) or np.any(shear <= 0.0):
        raise ValueError("bulk and shear moduli must be positive")
    if np.any(hardening < 0.0) or np.any(yield_stress <= 0.0):
        raise ValueError("yield stress must be positive and hardening non-negative")
    elastic = strain - plastic_strain
    volumetric = elastic[:, :3].sum(axis=1)
    deviator = elastic - (volumetric / 3.0)[:, None] * IDENTITY
    trial = 2.0 * shear[:, None] * deviator
    norm = np.linalg.norm(trial, axis=1)
    q_trial = np.sqrt(1.5) * norm
    flow = q_trial - (yield_stress + hardening * alpha)
    yielding = np.isfinite(yield_stress) & (flow > 0.0)
    increment = np.where(yielding, flow / (3.0 * shear + hardening), 0.0)
    safe_q = np.where(yielding, q_trial, 1.0)
    direction = np.where(yielding[:, None], trial / np.where(yielding, norm, 1.0)[:, None], 0.0)
    factor = 1.0 - 3.0 * shear * increment / safe_q
    stress = factor[:, None] * trial + (bulk * volumetric)[:, None] * IDENTITY
    new_plastic = plastic_strain + (np.sqrt(1.5) * increment)[:, None] * direction
    tangent = elastic_tangent(bulk, shear * factor)
    beta = np.where(yielding, 6.0 * shear**2 * (increment / safe_q - 1.0 / (3.0 * shear + hardening)), 0.0)
    tangent = tangent + beta[:, None, None] * direction[:, :, None] * direction[:, None, :]
    return ReturnMapping(stress, new_plastic, alpha + increment, tangent, yielding, increment)
