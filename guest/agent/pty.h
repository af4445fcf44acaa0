/* Pseudo-terminal mechanics for `exec` with "pty": open a master/slave pair, make the slave the
 * controlling terminal of a new session, resize, find the foreground job. Knows nothing about
 * frames or JSON; exec.c uses it to spawn, agent.c to resize. */
#ifndef PYRO_PTY_H
#define PYRO_PTY_H

#include <stddef.h>
#include <sys/types.h>

#define PTY_DEFAULT_COLS 120
#define PTY_DEFAULT_ROWS 30
#define PTY_MAX_DIM 1000 /* cols and rows are 1..PTY_MAX_DIM */

/* Opens a pair (both CLOEXEC, neither becomes the agent's controlling tty) sized cols x rows.
 * Returns 0, or -1 with a reason in err. */
int pty_open(int *master, int *slave, unsigned cols, unsigned rows, char *err, size_t errlen);
/* In the child, after setsid(): makes `slave` the controlling terminal. Returns 0 or -1. */
int pty_make_controlling(int slave);
/* TIOCSWINSZ on the master; the kernel sends SIGWINCH to the foreground process group. */
int pty_resize(int master, unsigned cols, unsigned rows);
/* The terminal's foreground process group, or -1 if unknown. */
pid_t pty_foreground(int master);

#endif
