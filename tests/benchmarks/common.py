"""Shared helpers of femion's benchmarks: timing, peak memory, captured linear systems, bare reference solves.

Benchmarks measure this machine; they assert nothing. Wall times are the
minimum over repeats (the least disturbed run) and femion/bare pairs are
timed alternately in one process, so that load from other processes hits
both alike. Peak memory is tracemalloc's peak of Python-allocated memory
(numpy and scipy buffers included; SuperLU's C allocations are not) or, for
whole commands, the peak resident set size of the child process.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
from scipy import sparse


def best_time(function: Callable[[], object], repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls [s]."""
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def alternating_best(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time [s] of each function, calling them in turn ``repeats`` times (fair under varying load)."""
    best = {name: np.inf for name in functions}
    for _ in range(max(1, repeats)):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def peak_memory(function: Callable[[], object]) -> tuple[object, float]:
    """Run ``function`` under tracemalloc; return (its result, peak traced memory [MiB])."""
    tracemalloc.start()
    try:
        result = function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / 2**20


def fit_exponent(sizes, values) -> float:
    """Least-squares slope p of log(value) = p log(size) + c."""
    return float(np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(values, float)), 1)[0])


def machine() -> dict:
    """What the figures were measured on."""
    import fipy
    import scipy

    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "fipy": fipy.__version__,
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
    }
    try:
        import pyamg

        info["pyamg"] = pyamg.__version__
    except ImportError:
        info["pyamg"] = None
    try:
        import skfem

        info["scikit-fem"] = skfem.__version__
    except (ImportError, AttributeError):
        info["scikit-fem"] = None
    return info


# --------------------------------------------------------------------------- captured linear systems


@dataclass
class CapturedSystem:
    """One sparse system a femion solve factorised and solved."""

    matrix: sparse.csc_matrix
    rhs: list[np.ndarray] = field(default_factory=list)

    @property
    def a_rhs(self) -> np.ndarray:
        """The last right-hand side solved, or A·1 if the solver needed no solve (FiPy skips it when the old value already satisfies the system)."""
        return self.rhs[-1] if self.rhs else self.matrix @ np.ones(self.matrix.shape[0])


@contextlib.contextmanager
def capture_linear_systems() -> Iterator[list[CapturedSystem]]:
    """Record every ``splu``/``spsolve`` call (scipy's, and FiPy's LU solver) and every banded
    factorisation (:meth:`femion.fvm.TwoPointOperator.factorized`) made inside the block.

    Yields the list that fills with :class:`CapturedSystem` (matrix and the
    right-hand sides it was solved with). Solves still happen normally.
    """
    import scipy.sparse.linalg as linalg

    captured: list[CapturedSystem] = []
    original_splu, original_spsolve = linalg.splu, linalg.spsolve

    class _RecordingLU:
        def __init__(self, lu, record):
            self._lu, self._record = lu, record

        def solve(self, rhs, *args, **kwargs):
            self._record.rhs.append(np.array(rhs, dtype=float, copy=True))
            return self._lu.solve(rhs, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(self._lu, name)

    def splu(matrix, *args, **kwargs):
        record = CapturedSystem(sparse.csc_matrix(matrix, copy=True))
        captured.append(record)
        return _RecordingLU(original_splu(matrix, *args, **kwargs), record)

    def spsolve(matrix, rhs, *args, **kwargs):
        captured.append(CapturedSystem(sparse.csc_matrix(matrix, copy=True), [np.array(rhs, dtype=float, copy=True)]))
        return original_spsolve(matrix, rhs, *args, **kwargs)

    from femion import fvm

    original_factorized = fvm.TwoPointOperator.factorized

    def factorized(self, owner_coefficient, neighbour_coefficient=None, diagonal=0.0, dirichlet_coefficient=None):
        # femion's banded factorisations: record the matrix they stand for; a SuperLU fallback inside is the same system
        arguments = (owner_coefficient, neighbour_coefficient, diagonal, dirichlet_coefficient)
        record = CapturedSystem(self.assemble(*arguments, format="csc"))
        count = len(captured)
        solve = original_factorized(self, *arguments)
        del captured[count:]
        captured.append(record)

        def recording(rhs):
            record.rhs.append(np.array(rhs, dtype=float, copy=True))
            return solve(rhs)

        return recording

    patched = [(linalg, "splu", splu), (linalg, "spsolve", spsolve), (fvm.TwoPointOperator, "factorized", factorized)]
    try:
        import fipy.solvers.scipy.linearLUSolver as fipy_lu

        patched.append((fipy_lu, "splu", splu))
    except ImportError:
        pass
    saved = [(module, name, getattr(module, name)) for module, name, _ in patched]
    for module, name, replacement in patched:
        setattr(module, name, replacement)
    try:
        yield captured
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def is_spd_candidate(matrix: sparse.spmatrix) -> bool:
    """Symmetric (to round-off) with a diagonal of one sign: a CG candidate after a sign flip."""
    matrix = sparse.csr_matrix(matrix)
    asymmetry = abs(matrix - matrix.T).max() if matrix.nnz else 0.0
    diagonal = matrix.diagonal()
    one_sign = np.all(diagonal > 0) or np.all(diagonal < 0)
    return bool(asymmetry <= 1e-12 * abs(matrix).max() and one_sign)


def bare_solvers(matrix: sparse.spmatrix, rhs: np.ndarray) -> dict[str, Callable[[], np.ndarray]]:
    """Bare scipy/pyamg solves of one assembled system, keyed by method.

    ``splu_colamd`` and ``splu_mmd`` (SuperLU with COLAMD and minimum degree
    on AᵀA + A orderings) always; ``banded_cholesky`` (:func:`banded_cholesky`)
    when the matrix is symmetric with a positive diagonal, else ``banded_lu``
    (:func:`banded_lu`); ``amg_cg`` (pyamg Ruge–Stüben AMG setup plus
    preconditioned CG to 1e-10, on the diagonally scaled system) when the
    matrix is symmetric with a one-signed diagonal and pyamg is installed.
    """
    from scipy.sparse.linalg import splu

    csc = sparse.csc_matrix(matrix)
    methods: dict[str, Callable[[], np.ndarray]] = {
        "splu_colamd": lambda: splu(csc, permc_spec="COLAMD").solve(rhs),
        "splu_mmd": lambda: splu(csc, permc_spec="MMD_AT_PLUS_A").solve(rhs),
    }
    if is_spd_candidate(matrix) and matrix.diagonal()[0] > 0:
        methods["banded_cholesky"] = lambda: banded_cholesky(csc, rhs)
    else:
        methods["banded_lu"] = lambda: banded_lu(csc, rhs)
    if is_spd_candidate(matrix):
        try:
            import pyamg
        except ImportError:
            pyamg = None
        if pyamg is not None:
            sign = 1.0 if matrix.diagonal()[0] > 0 else -1.0
            csr = sparse.csr_matrix(matrix) * sign
            scale = 1.0 / np.sqrt(csr.diagonal())

            def amg() -> np.ndarray:
                scaled = sparse.csr_matrix(sparse.diags(scale) @ csr @ sparse.diags(scale))
                x = pyamg.ruge_stuben_solver(scaled).solve(scale * rhs * sign, tol=1e-10, accel="cg", maxiter=300)
                return scale * x

            methods["amg_cg"] = amg
    return methods


def banded_cholesky(matrix: sparse.csc_matrix, rhs: np.ndarray) -> np.ndarray:
    """Bare banded Cholesky (the method of ``TwoPointOperator.factorized``): RCM order, band, LAPACK dpbtrf/dpbtrs."""
    from scipy import linalg
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    order = reverse_cuthill_mckee(matrix, symmetric_mode=True)
    permuted = sparse.tril(matrix[order][:, order], format="coo")
    width = int(np.max(permuted.row - permuted.col))
    band = np.zeros((width + 1, matrix.shape[0]))
    band[permuted.row - permuted.col, permuted.col] = permuted.data
    solution = linalg.cho_solve_banded((linalg.cholesky_banded(band, lower=True, check_finite=False), True), rhs[order], check_finite=False)
    result = np.empty_like(solution)
    result[order] = solution
    return result


def banded_lu(matrix: sparse.csc_matrix, rhs: np.ndarray) -> np.ndarray:
    """Bare banded LU (the drift–diffusion method of ``TwoPointOperator.factorized``): RCM order, band, LAPACK dgbtrf/dgbtrs."""
    from scipy.linalg import lapack
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    order = reverse_cuthill_mckee(matrix, symmetric_mode=True)
    permuted = matrix[order][:, order].tocoo()
    width = int(np.max(np.abs(permuted.row - permuted.col)))
    band = np.zeros((3 * width + 1, matrix.shape[0]))
    band[2 * width + permuted.row - permuted.col, permuted.col] = permuted.data
    factors, pivots, _ = lapack.dgbtrf(band, width, width, overwrite_ab=True)
    solution, _ = lapack.dgbtrs(factors, width, width, rhs[order], pivots)
    result = np.empty_like(solution)
    result[order] = solution
    return result


ISSUE_METHODS = ("splu_colamd", "splu_mmd", "amg_cg")
"""The bare methods of the per-step overhead ratio (scipy.sparse.linalg's SuperLU, pyamg-preconditioned CG)."""


def best_bare(matrix: sparse.spmatrix, rhs: np.ndarray, repeats: int) -> tuple[str, float, dict[str, float]]:
    """(fastest of :data:`ISSUE_METHODS`, its time [s], all times [s]) of :func:`bare_solvers` reaching the splu solution to 1e-6.

    All times include ``banded_cholesky`` (femion's own method, bare) for symmetric positive systems.
    """
    methods = bare_solvers(matrix, rhs)
    reference = methods["splu_mmd"]()
    scale = max(float(np.max(np.abs(reference))), 1e-300)
    times = {}
    for name, function in methods.items():
        try:
            error = float(np.max(np.abs(function() - reference))) / scale
        except Exception:  # an iterative method that fails is simply not a candidate
            continue
        if error < 1e-6:
            times[name] = best_time(function, repeats)
    name = min((method for method in times if method in ISSUE_METHODS), key=times.get)
    return name, times[name], times
