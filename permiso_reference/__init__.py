"""Embedded reference Permiso: a small, contract-faithful implementation of the Permiso HTTP API.

The acceptance suite reaches it only over HTTP (it never imports ``support/``). Start it with
``permiso_reference.server.ReferenceServer`` or the ``permiso-reference serve`` console script.
"""

__version__ = "1.0.0"
