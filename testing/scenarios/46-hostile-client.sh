#!/usr/bin/env bash
# A hostile peer on the replication network (issue 10, docu/security.md): from node2,
# mars-hostile attacks node1, the primary of r0, on all three ports — without the key
# (the old protocol's "(any)" Hello, requests before authentication, unknown key ids),
# with the right key id but a wrong key, replaying a member's recorded sessions,
# tampering with frames inside a session, and as a malicious member (paths outside the
# logfiles, unknown resources, ranges beyond the disk, huge lengths) — then fuzzes the
# three ports with random and mutated frames (authenticated and not) while node1
# writes. Every attempt must be refused; afterwards node1 is up, its tree is unchanged
# but for what replication does, replication goes on, and the disks end equal.
#
# node2 is a member: the attacks without the key do not use its key (mars-hostile
# reads /mars/cluster.key only for the member attacks and for the key id of wrong-key).
source "$(dirname "$0")/../lib.sh"

FUZZ_SECONDS=${MARS_HOSTILE_FUZZ_SECONDS:-45}
# (a generous bound per read for the attacks, where a silent server is a verdict; a short
# one for the fuzzer, whose mutated lengths leave the server waiting for more bytes)
hostile() { on node2 "mars-hostile --target 10.77.0.1 --timeout 20 $*"; }
fuzzer() { on node2 "mars-hostile --target 10.77.0.1 --timeout 3 $*"; }

DISK=vda replicated_r0
on node2 'marsadm wait-resource r0 --until uptodate --timeout 180' || fail "node2 not UpToDate: $(on node2 'marsadm view r0')"

# write MIB OFFSET_MIB: MiB of random data to node1's /dev/mars/r0.
write() {
  on node1 "dd if=/dev/urandom of=/dev/mars/r0 bs=1M count=$1 seek=$2 oflag=direct 2>/dev/null" || fail "write on node1"
}
# replayed: node2 has replayed everything node1 logged.
replayed() {
  retry 90 caught_up node1 node2 || fail "node2 did not replay node1's writes: $(on node2 'marsadm view r0')"
}
# tree: node1's tree but for what replication and liveness rewrite (logfiles, version
# links, replay positions, actual-* status), and the files an attacker would read.
tree() {
  on node1 'cd /mars && find . \( -path "./actual-*" -o -path "*/actual-*" -o -name "log-*" -o -name "version-*" \) -prune -o -print |
    sort | while read -r p; do
      if [ -L "$p" ]; then case $p in */replay-*) echo "$p" ;; *) echo "$p -> $(readlink "$p")" ;; esac; else echo "$p"; fi
    done; sha256sum /etc/passwd /etc/group /mars/cluster.key'
}
# node2s_entries NODE: node2's links in r0 (but for its replay position and versions) as
# NODE has them. node1 learns them by pulling node2's tree (about every 2 s, later after
# failed pulls), so they can reach it after node2 is UpToDate.
node2s_entries() {
  on "$1" 'cd /mars/resource-r0 && find . -type l \( -name "*-node2" -o -path "./todo-node2/*" \) ! -name "replay-*" ! -name "version-*" ! -path "./actual-*" |
    sort | while read -r p; do echo "$p -> $(readlink "$p")"; done'
}
node1_knows_node2() { [ "$(node2s_entries node1)" = "$(node2s_entries node2)" ]; }
kernel_trouble() { on node1 'dmesg' | grep -aE 'BUG:|Oops|Kernel panic|WARNING:|Call Trace:|rust_panic|UBSAN|KASAN'; }

write 4 0
replayed
retry 60 node1_knows_node2 || fail "node1 does not have node2's entries: $(diff <(node2s_entries node2) <(node2s_entries node1) | tr '\n' ';')"
before=$(tree)
grep -q '^./uuid -> ' <<<"$before" && grep -q '^./resource-r0/primary -> node1$' <<<"$before" || fail "no tree to compare: $before"

step "attacks from node2: each is refused"
for attack in no-key wrong-key replay tamper member; do
  hostile "$attack" || fail "$attack: mars-hostile exited $?"
done

step "fuzzing node1's three ports for ${FUZZ_SECONDS} s while node1 writes"
fuzzer "fuzz --seconds $FUZZ_SECONDS --seed $RANDOM" > "$(tb_state)/fuzz.out" 2>&1 &
fuzzer=$!
sleep 5
write 4 4
sleep 20
write 4 8
wait $fuzzer || { cat "$(tb_state)/fuzz.out"; fail "fuzz: mars-hostile exited with a breach or an error"; }
cat "$(tb_state)/fuzz.out"
grep -qE 'meta [1-9][0-9]* connections \([1-9].*fetch [1-9][0-9]* connections \([1-9].*sync [1-9][0-9]* connections \([1-9]' "$(tb_state)/fuzz.out" ||
  fail "the fuzzer did not reach every port with authenticated sessions"

step "node1 is up, its tree unchanged, replication goes on"
on node1 'lsmod | grep -q "^mars "' || fail "mars.ko is gone on node1"
trouble=$(kernel_trouble) && fail "kernel trouble on node1: $trouble"
assert_eq Primary "$(view_field node1 role)" "node1's role"
hostile member > /dev/null || fail "node1 no longer serves a member after the fuzzing"
write 4 12
replayed
after=$(tree)
[ "$before" = "$after" ] || fail "node1's tree changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ';')"

step "down on both: the disks are equal"
on node1 'marsadm down r0' || fail "down on node1"
on node2 'marsadm down r0' || fail "down on node2"
same_disks vda node1 node2
echo ok
