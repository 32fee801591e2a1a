#!/usr/bin/env python3
# evil-ova.py OUT KIND OVF [FILE]: a hostile OVA for tests/cimg-ova.bats,
# written with python's tarfile: the OVF descriptor first, then one entry
# of KIND, which the OVF names as its disk file disk1.vmdk:
#   dotdot    a regular file named ../escaped.vmdk
#   absolute  a regular file named with FILE's absolute path
#   symlink   disk1.vmdk, a symbolic link to /etc/passwd
#   hardlink  disk1.vmdk, a hard link to the OVF
#   device    disk1.vmdk, a character device (1, 3: /dev/null)
#   fifo      disk1.vmdk, a FIFO
import io
import sys
import tarfile

out, kind, ovf = sys.argv[1], sys.argv[2], sys.argv[3]
data = b"KDMV" + bytes(508)
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
    t.add(ovf, arcname="appliance.ovf")
    if kind == "dotdot":
        ti = tarfile.TarInfo("../escaped.vmdk")
    elif kind == "absolute":
        ti = tarfile.TarInfo(sys.argv[4])
    else:
        ti = tarfile.TarInfo("disk1.vmdk")
    if kind == "symlink":
        ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "hardlink":
        ti.type, ti.linkname = tarfile.LNKTYPE, "appliance.ovf"
    elif kind == "device":
        ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
    elif kind == "fifo":
        ti.type = tarfile.FIFOTYPE
    if ti.type == tarfile.REGTYPE:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)
