"""Config conversion: pure functions from a Xen domain config to its target.

``to_hvm`` and ``to_pvh`` stay on Xen and return an edited xl document;
``libvirt.to_kvm`` leaves Xen and returns libvirt domain XML. Each returns a
:class:`~xenshift.convert.report.ChangeReport` saying what happened to every
setting. Nothing here reads or writes files.
"""
