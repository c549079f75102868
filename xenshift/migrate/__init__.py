"""Live migration between Xen hosts: Xen's stream format, pre-copy, hand-over.

``stream`` holds the format (one module per framing), the other modules the
engine: policy, pre-copy loop, hand-over, transport, telemetry, and the
backends behind one interface (``backend.xen``, ``backend.sim``).
"""
