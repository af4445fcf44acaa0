/* Process spawning and lifetime: pipes, process groups, timeouts, signals, exit status.
 * Knows nothing about frames or JSON; agent.c glues it to the protocol. */
#ifndef PYRO_EXEC_H
#define PYRO_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct exec_spec {
    char *const *argv;       /* NULL-terminated, non-empty */
    char *const *env;        /* "K=V" entries merged over the base env; NULL-terminated or NULL */
    const char *cwd;         /* NULL means "/" */
    uint64_t timeout_ms;     /* 0 = none */
    int want_stdin;          /* 0: child gets /dev/null (ignored with pty) */
    int pty;                 /* child gets a new session on a pty (stdin/stdout/stderr, ctty) */
    unsigned cols, rows;     /* pty size */
};

struct proc {
    pid_t pid;               /* also the process group id (setsid) */
    int out_fd, err_fd, in_fd; /* our pipe ends, -1 once closed; with a pty: dups of pty_fd */
    int pty_fd;              /* pty master (resize, foreground group) or -1; closed by proc_close */
    uint64_t start_ms, end_ms, deadline_ms;
    int exited, timed_out, status;
    /* stdin bytes the child has not read yet; bounded by the agent's backpressure */
    unsigned char *in_buf;
    size_t in_len, in_off;
    int in_eof;
};

enum { EXEC_OK = 0, EXEC_BAD_CWD = -1, EXEC_SPAWN_FAILED = -2 };

uint64_t now_ms(void);
/* WorkingDir of the image the root was built from, or "/": the cwd of requests without one. */
const char *image_default_cwd(void);
/* Starts a child in its own session. On failure returns EXEC_BAD_CWD/EXEC_SPAWN_FAILED with a reason. */
int proc_spawn(struct proc *p, const struct exec_spec *spec, char *err, size_t errlen);
/* To the whole process group. On a pty: INT/TERM to the terminal's foreground group instead;
 * HUP/KILL to both. */
void proc_signal(struct proc *p, int sig);
void proc_check_timeout(struct proc *p, uint64_t now);
void proc_reaped(struct proc *p, int status);
/* Exit code (128+n for signals, 124 on timeout) and signal name or NULL. */
int proc_exit_code(const struct proc *p, const char **signame);

/* Queues stdin bytes and writes what the pipe takes; extra data after EOF is dropped. */
void proc_stdin_push(struct proc *p, const void *data, size_t len);
void proc_stdin_eof(struct proc *p); /* ignored on a pty */
void proc_stdin_pump(struct proc *p); /* call when in_fd is writable */
size_t proc_stdin_pending(const struct proc *p);

void proc_close(struct proc *p); /* closes our fds and frees buffers; does not kill or reap */

const char *signal_name(int sig);
int signal_by_name(const char *name); /* "INT", "TERM", "HUP", "KILL"; 0 if not allowed */

#endif
