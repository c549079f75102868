"""Guests read straight from a Xen host over ssh (``-ic ssh://HOST``).

``guest`` fetches a guest's config (``xl list -l`` or its config file) and
refuses a running guest; ``disks`` exports its disks to the local machine
over NBD (nbdkit's ssh plugin for files, ``nbd_relay`` for block devices),
read-only: nothing is ever written on the host.
"""
