#!/bin/busybox sh
# pyro guest init (runs from the initramfs as PID 1).
# Loads the virtio modules, mounts the disks the host attached (found by their serial numbers),
# gives the agent a home on a tmpfs the real root can reach, then switch_roots into the agent.
# Kernel parameters read here: pyro.root=, pyro.workspace=, pyro.baseline= (disk serials),
# pyro.net=1 (user-mode networking), pyro.probe=1 (accelerator probe: power off at once),
# pyro.page_reporting_order=N (free page reporting granularity).

/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
  echo "pyro-init: error: $*" > /dev/console
  sync
  poweroff -f
}

param() {
  for word in $(cat /proc/cmdline); do
    case "$word" in "$1="*) echo "${word#*=}"; return 0 ;; esac
  done
  return 1
}

for module in $(cat /modules/order); do
  insmod "/modules/$module.ko" || fail "cannot load kernel module $module"
done

# Free page reporting (virtio_balloon): the driver reports free blocks of 2 MiB and up; smaller
# blocks (down to 2^N pages) go back to the host too when the host asks for it. Linux 6.1 sets
# this when the driver loads, ignoring the boot parameter, so it is written afterwards.
reporting=/sys/module/page_reporting/parameters/page_reporting_order
if order=$(param pyro.page_reporting_order) && [ -w "$reporting" ]; then
  echo "$order" > "$reporting" || true
fi

if [ "$(param pyro.probe)" = "1" ]; then
  echo "pyro-probe-ok" > /dev/console
  poweroff -f
fi

# Block devices appear as their drivers probe; wait briefly for the one with this serial.
find_disk() {
  tries=0
  while [ $tries -lt 200 ]; do
    for dev in /sys/block/vd*; do
      [ -e "$dev/serial" ] || continue
      if [ "$(cat "$dev/serial")" = "$1" ]; then echo "/dev/${dev##*/}"; return 0; fi
    done
    tries=$((tries + 1))
    usleep 10000
  done
  return 1
}

root_serial=$(param pyro.root) || fail "no pyro.root= on the kernel command line"
root_dev=$(find_disk "$root_serial") || fail "root disk $root_serial not found"
mount -t ext4 "$root_dev" /newroot || fail "cannot mount root disk $root_dev"

mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run || fail "cannot mount /run"
mkdir -p /newroot/run/pyro
cp /pyro-agent /newroot/run/pyro/agent || fail "cannot install the agent"

if workspace_serial=$(param pyro.workspace); then
  workspace_dev=$(find_disk "$workspace_serial") || fail "workspace disk not found"
  mkdir -p /newroot/workspace
  mount -t ext4 "$workspace_dev" /newroot/workspace || fail "cannot mount /workspace"
fi
if baseline_serial=$(param pyro.baseline); then
  baseline_dev=$(find_disk "$baseline_serial") || fail "baseline disk not found"
  mkdir -p /newroot/run/pyro/baseline
  mount -t ext4 -o ro,noload "$baseline_dev" /newroot/run/pyro/baseline || fail "cannot mount baseline"
fi

hostname pyro
ip link set lo up
if [ "$(param pyro.net)" = "1" ]; then
  for module in failover net_failover virtio_net; do
    insmod "/modules/$module.ko" || fail "cannot load kernel module $module"
  done
  # QEMU user-mode networking: fixed addresses, gateway 10.0.2.2, DNS 10.0.2.3.
  ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 ||
    fail "cannot configure eth0"
  echo "nameserver 10.0.2.3" > /newroot/etc/resolv.conf
fi

for dir in proc sys dev tmp; do mkdir -p "/newroot/$dir"; done
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /newroot/dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /newroot/dev/shm

exec switch_root /newroot /run/pyro/agent
