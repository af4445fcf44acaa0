#define _GNU_SOURCE
#include "exec.h"
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *const base_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    "TERM=xterm-256color",
};
#define BASE_ENV_COUNT (sizeof base_env / sizeof base_env[0])

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Defaults of an environment pulled from an OCI image: its Env ("K=V" lines) and WorkingDir,
 * which pyro writes to /.pyro-image when it builds the root. Read once; absent for Debian roots. */
#define IMAGE_ENV_MAX 128
static char *image_env[IMAGE_ENV_MAX + 1];
static char image_workdir[1024];
static int image_loaded;

static size_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = 0;
    return n;
}

static void load_image_defaults(void)
{
    if (image_loaded)
        return;
    image_loaded = 1;
    static char text[65536];
    size_t n = read_small("/.pyro-image/env", text, sizeof text), count = 0;
    for (char *line = text, *end; line < text + n && count < IMAGE_ENV_MAX; line = end + 1) {
        end = strchr(line, '\n');
        if (!end)
            end = text + n;
        *end = 0;
        if (strchr(line, '=') && line[0] != '=')
            image_env[count++] = line;
    }
    n = read_small("/.pyro-image/workdir", image_workdir, sizeof image_workdir);
    char *nl = strchr(image_workdir, '\n');
    if (nl)
        *nl = 0;
    if (image_workdir[0] != '/')
        image_workdir[0] = 0;
}

const char *image_default_cwd(void)
{
    load_image_defaults();
    return image_workdir[0] ? image_workdir : "/";
}

static int has_key(char *const *list, size_t count, const char *kv)
{
    size_t k = key_len(kv);
    for (size_t j = 0; j < count; j++)
        if (key_len(list[j]) == k && !strncmp(list[j], kv, k))
            return 1;
    return 0;
}

/* Base env, then the image's Env, then request entries: each layer replaces keys below it. */
static char **build_env(char *const *extra)
{
    load_image_defaults();
    size_t n_extra = 0, n_image = 0;
    while (extra && extra[n_extra])
        n_extra++;
    while (image_env[n_image])
        n_image++;
    char **env = calloc(BASE_ENV_COUNT + n_image + n_extra + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < BASE_ENV_COUNT; i++)
        if (!has_key(extra, n_extra, base_env[i]) && !has_key(image_env, n_image, base_env[i]))
            env[n++] = (char *)base_env[i];
    for (size_t i = 0; i < n_image; i++)
        if (!has_key(extra, n_extra, image_env[i]))
            env[n++] = image_env[i];
    for (size_t j = 0; j < n_extra; j++)
        env[n++] = extra[j];
    return env;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Runs in the child; never returns. */
static void child(const struct exec_spec *s, char **envp, int in_fd, int out_fd, int err_fd, int report_fd,
                  int ctty)
{
    /* Ignored signals survive exec: give the child default SIGPIPE etc. and an empty mask. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    setsid(); /* own process group, so timeouts and signals reach grandchildren too */
    if (ctty >= 0 && pty_make_controlling(ctty))
        _exit(127);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(127);
    if (chdir(s->cwd ? s->cwd : "/")) {
        int e = errno;
        (void)!write(report_fd, &e, sizeof e);
        _exit(127);
    }
    environ = envp; /* execvp searches the child's PATH, not the agent's */
    execvp(s->argv[0], s->argv);
    dprintf(2, "pyro-agent: %s: %s\n", s->argv[0], strerror(errno));
    _exit(127);
}

int proc_spawn(struct proc *p, const struct exec_spec *s, char *err, size_t errlen)
{
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, in[2] = {-1, -1}, rep[2] = {-1, -1};
    int master = -1, slave = -1;
    int rc = EXEC_SPAWN_FAILED;
    memset(p, 0, sizeof *p);
    p->out_fd = p->err_fd = p->in_fd = p->pty_fd = -1;

    char **envp = build_env(s->env);
    if (!envp) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (pipe2(rep, O_CLOEXEC))
        goto fail_errno;
    if (s->pty) {
        /* Output and stdin share the master; separate fds so closing stdin at exit keeps the
         * output (and pty_fd for resize/signals) open. */
        if (pty_open(&master, &slave, s->cols, s->rows, err, errlen))
            goto fail;
        if ((out[0] = fcntl(master, F_DUPFD_CLOEXEC, 0)) < 0 || (in[1] = fcntl(master, F_DUPFD_CLOEXEC, 0)) < 0)
            goto fail_errno;
    } else if (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
        goto fail_errno;
    } else if (s->want_stdin) {
        if (pipe2(in, O_CLOEXEC))
            goto fail_errno;
    } else if ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        /* No /dev/null (bare rootfs): an already-closed pipe reads as EOF just the same. */
        if (pipe2(in, O_CLOEXEC))
            goto fail_errno;
        close_fd(&in[1]);
    }

    pid_t pid = fork();
    if (pid < 0)
        goto fail_errno;
    if (pid == 0) {
        if (slave >= 0)
            child(s, envp, slave, slave, slave, rep[1], slave);
        child(s, envp, in[0], out[1], errp[1], rep[1], -1);
    }

    close_fd(&out[1]);
    close_fd(&errp[1]);
    close_fd(&in[0]);
    close_fd(&rep[1]);
    close_fd(&slave); /* else the master never sees EIO when the session ends */
    /* The report pipe closes on exec (CLOEXEC) or carries chdir's errno. */
    int e = 0;
    ssize_t k;
    do
        k = read(rep[0], &e, sizeof e);
    while (k < 0 && errno == EINTR);
    close_fd(&rep[0]);
    if (k == (ssize_t)sizeof e) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        snprintf(err, errlen, "cannot use cwd %s: %s", s->cwd ? s->cwd : "/", strerror(e));
        rc = EXEC_BAD_CWD;
        goto fail;
    }

    p->pid = pid;
    p->out_fd = out[0];
    p->err_fd = errp[0];
    p->in_fd = in[1];
    p->pty_fd = master;
    set_nonblock(p->out_fd); /* with a pty this is the master's file description: all of it */
    if (p->err_fd >= 0)
        set_nonblock(p->err_fd);
    if (p->in_fd >= 0)
        set_nonblock(p->in_fd);
    p->start_ms = now_ms();
    p->deadline_ms = s->timeout_ms ? p->start_ms + s->timeout_ms : 0;
    free(envp);
    return EXEC_OK;

fail_errno:
    snprintf(err, errlen, "spawn failed: %s", strerror(errno));
fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&out[i]);
        close_fd(&errp[i]);
        close_fd(&in[i]);
        close_fd(&rep[i]);
    }
    close_fd(&master);
    close_fd(&slave);
    free(envp);
    return rc;
}

void proc_signal(struct proc *p, int sig)
{
    if (p->pid <= 0)
        return;
    /* A shell on a pty runs its jobs in their own groups: ^C belongs to the foreground job. */
    pid_t fg = p->pty_fd >= 0 ? pty_foreground(p->pty_fd) : -1;
    if (fg > 0 && fg != p->pid) {
        kill(-fg, sig);
        if (sig != SIGHUP && sig != SIGKILL)
            return;
    }
    kill(-p->pid, sig);
}

void proc_check_timeout(struct proc *p, uint64_t now)
{
    if (!p->exited && !p->timed_out && p->deadline_ms && now >= p->deadline_ms) {
        p->timed_out = 1;
        proc_signal(p, SIGKILL);
    }
}

void proc_reaped(struct proc *p, int status)
{
    p->exited = 1;
    p->status = status;
    p->end_ms = now_ms();
    /* Nobody is left to read stdin. */
    close_fd(&p->in_fd);
    free(p->in_buf);
    p->in_buf = NULL;
    p->in_len = p->in_off = 0;
}

int proc_exit_code(const struct proc *p, const char **signame)
{
    *signame = NULL;
    if (p->timed_out)
        return 124;
    if (WIFSIGNALED(p->status)) {
        *signame = signal_name(WTERMSIG(p->status));
        return 128 + WTERMSIG(p->status);
    }
    return WEXITSTATUS(p->status);
}

size_t proc_stdin_pending(const struct proc *p)
{
    return p->in_len - p->in_off;
}

void proc_stdin_push(struct proc *p, const void *data, size_t len)
{
    if (p->in_fd < 0 || p->in_eof || len == 0)
        return;
    if (p->in_off) { /* compact before growing */
        memmove(p->in_buf, p->in_buf + p->in_off, p->in_len - p->in_off);
        p->in_len -= p->in_off;
        p->in_off = 0;
    }
    unsigned char *nb = realloc(p->in_buf, p->in_len + len);
    if (!nb)
        return; /* dropping input beats dying; the agent's backpressure keeps this rare */
    memcpy(nb + p->in_len, data, len);
    p->in_buf = nb;
    p->in_len += len;
    proc_stdin_pump(p);
}

void proc_stdin_eof(struct proc *p)
{
    if (p->pty_fd >= 0) /* a terminal has no EOF; the host sends ^D (0x04) as stdin if it wants one */
        return;
    p->in_eof = 1;
    proc_stdin_pump(p);
}

void proc_stdin_pump(struct proc *p)
{
    while (p->in_fd >= 0 && p->in_off < p->in_len) {
        ssize_t k = write(p->in_fd, p->in_buf + p->in_off, p->in_len - p->in_off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (k < 0) { /* EPIPE: the child closed its stdin; drop the rest */
            close_fd(&p->in_fd);
            break;
        }
        p->in_off += (size_t)k;
    }
    if (p->in_off == p->in_len) {
        free(p->in_buf);
        p->in_buf = NULL;
        p->in_len = p->in_off = 0;
        if (p->in_eof)
            close_fd(&p->in_fd);
    }
}

void proc_close(struct proc *p)
{
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
    close_fd(&p->in_fd);
    close_fd(&p->pty_fd);
    free(p->in_buf);
    p->in_buf = NULL;
    p->in_len = p->in_off = 0;
}

static const char *const sig_names[] = {
    [SIGHUP] = "HUP",   [SIGINT] = "INT",       [SIGQUIT] = "QUIT", [SIGILL] = "ILL",
    [SIGTRAP] = "TRAP", [SIGABRT] = "ABRT",     [SIGBUS] = "BUS",   [SIGFPE] = "FPE",
    [SIGKILL] = "KILL", [SIGUSR1] = "USR1",     [SIGSEGV] = "SEGV", [SIGUSR2] = "USR2",
    [SIGPIPE] = "PIPE", [SIGALRM] = "ALRM",     [SIGTERM] = "TERM", [SIGSTKFLT] = "STKFLT",
    [SIGCHLD] = "CHLD", [SIGCONT] = "CONT",     [SIGSTOP] = "STOP", [SIGTSTP] = "TSTP",
    [SIGTTIN] = "TTIN", [SIGTTOU] = "TTOU",     [SIGURG] = "URG",   [SIGXCPU] = "XCPU",
    [SIGXFSZ] = "XFSZ", [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF", [SIGWINCH] = "WINCH",
    [SIGIO] = "IO",     [SIGPWR] = "PWR",       [SIGSYS] = "SYS",
};

const char *signal_name(int sig)
{
    static char buf[16];
    if (sig > 0 && (size_t)sig < sizeof sig_names / sizeof sig_names[0] && sig_names[sig])
        return sig_names[sig];
    snprintf(buf, sizeof buf, "SIG%d", sig); /* real-time signals have no fixed name */
    return buf;
}

int signal_by_name(const char *name)
{
    static const int allowed[] = {SIGINT, SIGTERM, SIGHUP, SIGKILL};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (!strcmp(name, sig_names[allowed[i]]))
            return allowed[i];
    return 0;
}
