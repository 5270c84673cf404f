"""femion: coupled 2D-axisymmetric multiphysics of iontronic thin-film devices.

The reference device is the all-in-one Pt/WO3/LiPON/MoO3/ITO stack of Wang et
al., Nano Research 18, 94907043 (2025). Typical use::

    import femion
    from femion.physics.electrostatics import (
        conduction_regions, electrode_interface, layer_conductivity, solve_potential)

    device = femion.load_device()                 # built-in reference device
    mesh = femion.build_mesh(device)              # gmsh, transfinite quads, named groups
    stack = mesh.submesh(conduction_regions(device))
    solution = solve_potential(stack, layer_conductivity(stack, device), 0.1,
                               electrode=electrode_interface(device))
    print(solution.current)                       # A

See README.md for the package tour and ``femion --help`` for the command line.
"""

from femion._version import __version__
from femion.config import Device, DeviceConfigError, Layer, load_device
from femion.geometry import QUICK_MESH, MeshSettings
from femion.materials import Material, MaterialError, load_material
from femion.mesh import AxisymmetricMesh, MeshError, build_mesh, read_mesh
from femion.simulation import Result, Simulation, SimulationSettings
from femion.units import UnitError

__all__ = [
    "AxisymmetricMesh",
    "Device",
    "DeviceConfigError",
    "Layer",
    "Material",
    "MaterialError",
    "MeshError",
    "MeshSettings",
    "QUICK_MESH",
    "Result",
    "Simulation",
    "SimulationSettings",
    "UnitError",
    "__version__",
    "build_mesh",
    "load_device",
    "load_material",
    "read_mesh",
]
