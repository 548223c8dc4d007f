"""Image transformations the optimiser differentiates through (expectation over transformations).

Each module has one job, e.g. ``shading.transforms.jpeg`` is a differentiable model of libjpeg's
lossy round trip.  Import the submodules directly; this package imports nothing heavy itself.
"""
