"""Xen's migration stream, one module per layer as the specs lay it out.

``framing`` is the record framing shared by the libxc and libxl layers,
``libxc`` the memory/CPU stream (v3), ``libxl`` the toolstack wrapper,
``xl`` the saved-domain header xl puts in front, ``hvm_context`` the walk of
the opaque HVM context blob.  ``writer`` and ``reader`` string the layers
together in the order Xen 4.17 writes them.
"""
