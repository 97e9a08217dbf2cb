#!/usr/bin/env bash
# marsadm refuses bad input with a clear message and the exit status of its class
# (1 refused, 7 module not loaded: docu/architecture.md, "marsadm exit codes"), and
# leaves /mars exactly as it was.
source "$(dirname "$0")/../lib.sh"

n=node1
on $n 'rmmod mars 2>/dev/null; rm -rf /mars/* /mars/.tmp* 2>/dev/null; true'

snapshot() { on $n 'cd /mars && find . -printf "%p %y %l %T@\n" | sort'; }

# refuse EXPECTED-MESSAGE COMMAND [STATUS]: must exit STATUS (default 1), print the
# message, change nothing.
refuse() {
  local want=$1 cmd=$2 status=${3:-1} before after out rc=0
  before=$(snapshot)
  out=$(on $n "$cmd" 2>&1) || rc=$?
  [ "$rc" = "$status" ] || fail "'$cmd' exited $rc, expected $status (output: $out)"
  grep -qF -- "$want" <<<"$out" || fail "'$cmd': expected message '$want', got: $out"
  after=$(snapshot)
  [ "$before" = "$after" ] || fail "'$cmd' changed /mars"
  echo "refused as expected: $cmd -> $out"
}

step "/mars not a mountpoint"
on $n 'umount /mars'
refuse "/mars is not a mounted filesystem of its own" 'marsadm create-cluster'
on $n 'mount /dev/vdc /mars'

step "no module, no cluster"
refuse "the kernel module is not loaded" 'marsadm create-resource r0 /dev/vdb' 7
on $n 'modprobe mars'
refuse "not member of a cluster" 'marsadm create-resource r0 /dev/vdb'
on $n 'marsadm create-cluster'
refuse "already member of cluster" 'marsadm create-cluster'

step "bad names"
refuse 'bad resource name "all": name is reserved' 'marsadm create-resource all /dev/vdb'
refuse 'bad resource name "R0": name must start with a lower-case letter' 'marsadm create-resource R0 /dev/vdb'
refuse "bad resource name \"r_0\": character '_' not allowed" 'marsadm create-resource r_0 /dev/vdb'
refuse 'bad device name' 'marsadm create-resource r0 /dev/vdb this-device-name-is-far-too-long'

step "bad disks"
refuse "cannot use /dev/nonexistent as disk" 'marsadm create-resource r0 /dev/nonexistent'
refuse "cannot use relative/path as disk: give an absolute path" 'marsadm create-resource r0 relative/path'
on $n 'head -c 1048576 /dev/zero > /tmp/file.img'
refuse "cannot use /tmp/file.img as disk: not a block device" 'marsadm create-resource r0 /tmp/file.img'
on $n 'head -c 524288 /dev/zero > /tmp/small.img && losetup /dev/loop0 /tmp/small.img'
refuse "cannot use /dev/loop0 as disk: too small: 524288 bytes" 'marsadm create-resource r0 /dev/loop0'
on $n 'losetup -d /dev/loop0'
on $n 'mkfs.ext4 -q -F /dev/vda && mkdir -p /mnt/vda && mount /dev/vda /mnt/vda'
refuse "cannot use /dev/vda as disk: in use" 'marsadm create-resource r0 /dev/vda'
on $n 'umount /mnt/vda'

step "a good resource, then the same again"
on $n 'marsadm create-resource r0 /dev/vdb'
refuse "resource r0 exists already" 'marsadm create-resource r0 /dev/vdb'
refuse "disk /dev/vdb belongs to resource r0 already" 'marsadm create-resource r1 /dev/vdb'
refuse "device name r0 is used by resource r0" 'marsadm create-resource r1 /dev/vda r0'

step "clean up"
retry 30 on $n 'test -b /dev/mars/r0' || fail "/dev/mars/r0 did not appear"
on $n 'rmmod mars && rm -rf /mars/*'
echo ok
