"""Shared fixtures: the reference device and its meshes (built once per session)."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import pytest  # noqa: E402

import femion  # noqa: E402


@pytest.fixture(scope="session")
def device() -> femion.Device:
    """The built-in reference device."""
    return femion.load_device()


@pytest.fixture(scope="session")
def mesh(device) -> femion.AxisymmetricMesh:
    """Default-resolution mesh of the reference device."""
    return femion.build_mesh(device)


@pytest.fixture(scope="session")
def quick_mesh(device) -> femion.AxisymmetricMesh:
    """Quick (coarse) mesh of the reference device."""
    return femion.build_mesh(device, settings=femion.QUICK_MESH)
