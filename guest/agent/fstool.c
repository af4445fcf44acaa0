#define _GNU_SOURCE
#include "fstool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* From <linux/fs.h>, which musl-gcc has no copy of. */
#ifndef FIFREEZE
#define FIFREEZE _IOWR('X', 119, int)
#define FITHAW _IOWR('X', 120, int)
#endif

void fstool_used(const struct statvfs *st, uint64_t *used_bytes, uint64_t *used_inodes)
{
    uint64_t blocks = st->f_blocks > st->f_bfree ? st->f_blocks - st->f_bfree : 0;
    *used_bytes = blocks * (uint64_t)st->f_frsize;
    *used_inodes = st->f_files > st->f_ffree ? st->f_files - st->f_ffree : 0;
}

/* The same two lines as `df -B1 --output=used,iused`, so the host parses one format. */
static int print_usage(int fd, const char *path)
{
    struct statvfs st;
    if (fstatvfs(fd, &st)) {
        fprintf(stderr, "usage failed: %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint64_t bytes, inodes;
    fstool_used(&st, &bytes, &inodes);
    printf("Used IUsed\n%llu %llu\n", (unsigned long long)bytes, (unsigned long long)inodes);
    return fflush(stdout) ? 1 : 0;
}

int fstool_main(int argc, char **argv)
{
    if (argc < 2)
        return -1;
    const char *verb = argv[1];
    if (strcmp(verb, "freeze") && strcmp(verb, "thaw") && strcmp(verb, "usage"))
        return -1;
    if (argc != 3) {
        fprintf(stderr, "usage: pyro-agent freeze|thaw|usage PATH\n");
        return 2;
    }
    const char *path = argv[2];
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s failed: %s: %s\n", verb, path, strerror(errno));
        return 1;
    }
    int rc = 0;
    if (!strcmp(verb, "usage")) {
        sync(); /* a full snapshot pauses the VM next: everything written must be on the disks */
        rc = print_usage(fd, path);
    } else if (!strcmp(verb, "freeze")) {
        /* statfs answers on a frozen filesystem too, but measure first like `df && fsfreeze`;
         * FIFREEZE syncs the filesystem before it freezes. */
        rc = print_usage(fd, path);
        if (!rc && ioctl(fd, FIFREEZE, 0)) {
            /* EBUSY: frozen already; the host words that case itself. */
            fprintf(stderr, "freeze failed: %s: %s\n", path, strerror(errno));
            rc = 1;
        }
    } else if (ioctl(fd, FITHAW, 0)) {
        /* EINVAL: it was not frozen, which the host treats as thawed. */
        fprintf(stderr, "thaw failed: %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    close(fd);
    return rc;
}
