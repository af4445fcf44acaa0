/* The `setup` request: what a VM restored from a saved state needs before any command runs.
 * Fresh entropy (mixed into the kernel RNG, which is then reseeded), the host's clock, a new
 * hostname and machine-id, and the disks to mount (the saved VM had not mounted them). */
#ifndef PYRO_SETUP_H
#define PYRO_SETUP_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define SETUP_MAX_MOUNTS 4
#define SETUP_MAX_ENTROPY 512

struct setup_mount {
    const char *serial; /* virtio-blk serial of the disk */
    const char *target; /* absolute mount point */
    int read_only;
};

struct setup_req {
    int has_time;
    uint64_t time_ms; /* host wall clock, ms since the epoch */
    const char *hostname;
    const char *machine_id; /* 32 lowercase hex digits */
    struct setup_mount mounts[SETUP_MAX_MOUNTS];
    size_t mount_count;
};

/* Validates a setup header; NULL on success, else a reason. Pure: unit-tested. */
const char *setup_parse(const struct json *hdr, struct setup_req *out);

/* Applies a parsed request; entropy is the frame payload. 0 on success, else -1 with a reason. */
int setup_apply(const struct setup_req *req, const unsigned char *entropy, size_t entropy_len, char *why,
                size_t why_len);

#endif
