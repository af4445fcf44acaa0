/* `pyro-agent freeze|thaw|usage PATH`: the live-snapshot filesystem steps, built into the static
 * agent so that they work in any image (busybox and Alpine have no GNU df or fsfreeze). The
 * supervisor runs them as ordinary commands under its own deadlines. */
#ifndef PYRO_FSTOOL_H
#define PYRO_FSTOOL_H

#include <stdint.h>
#include <sys/statvfs.h>

/* Runs a tool verb when argv[1] names one and returns its exit code; -1 when it does not. */
int fstool_main(int argc, char **argv);

/* Bytes and inodes in use, as `df -B1 --output=used,iused` counts them. Pure: unit-tested. */
void fstool_used(const struct statvfs *st, uint64_t *used_bytes, uint64_t *used_inodes);

#endif
