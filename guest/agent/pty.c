#define _GNU_SOURCE
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

int pty_resize(int master, unsigned cols, unsigned rows)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    return ioctl(master, TIOCSWINSZ, &ws);
}

int pty_open(int *master, int *slave, unsigned cols, unsigned rows, char *err, size_t errlen)
{
    char name[64];
    const char *what = "posix_openpt";
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), s = -1;
    if (m < 0) /* /dev/ptmx missing but devpts mounted: use the instance's own ptmx */
        m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        goto fail;
    what = "grantpt/unlockpt";
    if (grantpt(m) || unlockpt(m))
        goto fail;
    what = "ptsname";
    if ((errno = ptsname_r(m, name, sizeof name)))
        goto fail;
    what = name;
    if ((s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        goto fail;
    what = "TIOCSWINSZ";
    if (pty_resize(m, cols, rows))
        goto fail;
    *master = m;
    *slave = s;
    return 0;
fail:
    snprintf(err, errlen, "cannot open a pty: %s: %s", what, strerror(errno));
    if (s >= 0)
        close(s);
    if (m >= 0)
        close(m);
    return -1;
}

int pty_make_controlling(int slave)
{
    return ioctl(slave, TIOCSCTTY, 0);
}

pid_t pty_foreground(int master)
{
    pid_t pg = tcgetpgrp(master); /* on a master Linux answers for the slave side */
    return pg > 0 ? pg : -1;
}
