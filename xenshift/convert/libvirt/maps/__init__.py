"""The mappers from xl keys to parts of a KVM domain, one module per area.

Each module has ``RULES`` (a tuple of :class:`..context.KvmRule`, the xl
keys it carries into the domain) and ``apply(ctx)``; :mod:`..mapping` runs
them in the order libvirt needs them (disks before boot order, ...).
"""
