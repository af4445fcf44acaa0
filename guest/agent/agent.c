/* pyro-agent: guest side of docs/protocol.md. One poll() loop over the host port, the children's
 * pipes and a SIGCHLD self-pipe. New features add a row to `handlers` (and a module for the
 * mechanics), see the table near the bottom. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "flow.h"
#include "frame.h"
#include "fstool.h"
#include "json.h"
#include "protocol.h"
#include "pty.h"
#include "setup.h"

#define MAX_CHANNELS 256
#define STDIN_HIGH_WATER (1u << 20) /* stop reading the port while this much stdin is queued */
#define DRAIN_LIMIT (4u << 20)      /* after exit, forward at most this much leftover output */
#define FRAMES_PER_WAKEUP 64        /* so a chatty host cannot starve the children's pipes */
#define HUP_BACKOFF_MS 50

enum chan_kind { CHAN_FREE, CHAN_EXEC };

struct chan {
    uint32_t id;
    enum chan_kind kind;
    struct proc proc;
    struct flow flow;  /* output credit granted by the host */
    uint64_t drained;  /* leftover output forwarded since the process exited */
    int discard;       /* KILL from the host: it wants the exit, not the rest of the output */
};

static struct {
    const char *path_opt; /* --port */
    int fd, is_sock;
    int ready;            /* hello received on this connection: we may talk */
    int hup;              /* device said "no host": back off before polling again */
    uint64_t hup_until;
    int broken;           /* a write failed; handled as a disconnect at the end of the loop */
    struct frame_reader rd;
} port = {.fd = -1};

static struct chan chans[MAX_CHANNELS];
static int sigchld_pipe[2] = {-1, -1};
static int is_pid1;
static char hdr_buf[PYRO_MAX_HEADER_BYTES];
static unsigned char chunk[PYRO_MAX_CHUNK_BYTES];

static void logmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pyro-agent: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---------- sending ---------- */

static void send_frame(uint32_t ch, const char *hdr, long hlen, const void *payload, size_t plen)
{
    if (port.fd < 0 || port.broken || hlen < 0)
        return;
    if (frame_write(port.fd, ch, hdr, (size_t)hlen, payload, plen)) {
        logmsg("write to host failed: %s", strerror(errno));
        port.broken = 1;
    }
}

static void send_type(uint32_t ch, const char *type)
{
    struct json_writer w;
    jw_init(&w, hdr_buf, sizeof hdr_buf);
    jw_obj(&w);
    jw_key(&w, "type");
    jw_cstr(&w, type);
    jw_obj_end(&w);
    send_frame(ch, hdr_buf, jw_finish(&w), NULL, 0);
}

static void send_error(uint32_t ch, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct json_writer w;
    jw_init(&w, hdr_buf, sizeof hdr_buf);
    jw_obj(&w);
    jw_key(&w, "type");
    jw_cstr(&w, PYRO_MSG_ERROR);
    jw_key(&w, "code");
    jw_cstr(&w, code);
    jw_key(&w, "message");
    jw_cstr(&w, msg);
    if (!strcmp(code, "PROTOCOL_MISMATCH")) {
        jw_key(&w, "protocol");
        jw_int(&w, PYRO_PROTOCOL_VERSION);
    }
    jw_obj_end(&w);
    send_frame(ch, hdr_buf, jw_finish(&w), NULL, 0);
}

/* ---------- channels ---------- */

static struct chan *chan_find(uint32_t id)
{
    for (int i = 0; id && i < MAX_CHANNELS; i++)
        if (chans[i].kind != CHAN_FREE && chans[i].id == id)
            return &chans[i];
    return NULL;
}

static struct chan *chan_alloc(uint32_t id, enum chan_kind kind)
{
    for (int i = 0; i < MAX_CHANNELS; i++)
        if (chans[i].kind == CHAN_FREE) {
            memset(&chans[i], 0, sizeof chans[i]);
            chans[i].id = id;
            chans[i].kind = kind;
            return &chans[i];
        }
    return NULL;
}

static void chan_free(struct chan *c)
{
    if (c->kind == CHAN_EXEC)
        proc_close(&c->proc);
    c->kind = CHAN_FREE;
}

/* An error is the last frame on a channel, so a live channel that gets one is torn down; its
 * process is killed and later reaped anonymously by reap_children(). */
static void chan_fail(struct chan *c, const char *code, const char *msg)
{
    send_error(c->id, code, "%s", msg);
    if (c->kind == CHAN_EXEC && !c->proc.exited)
        proc_signal(&c->proc, SIGKILL);
    chan_free(c);
}

static void reject(uint32_t ch, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct chan *c = chan_find(ch);
    if (c)
        chan_fail(c, code, msg);
    else
        send_error(ch, code, "%s", msg);
}

static void kill_all_children(void)
{
    for (int i = 0; i < MAX_CHANNELS; i++)
        if (chans[i].kind == CHAN_EXEC && !chans[i].proc.exited)
            proc_signal(&chans[i].proc, SIGKILL);
}

static size_t stdin_queued(void)
{
    size_t n = 0;
    for (int i = 0; i < MAX_CHANNELS; i++)
        if (chans[i].kind == CHAN_EXEC)
            n += proc_stdin_pending(&chans[i].proc);
    return n;
}

/* ---------- exec channels: output, reaping, exit ---------- */

/* Reads one chunk (only ever as much as we can send right away, and only within the host's
 * credit) and forwards it. */
static size_t forward_output(struct chan *c, int *fd, const char *type)
{
    size_t room = flow_room(&c->flow, sizeof chunk);
    if (!room)
        return 0;
    ssize_t k = read(*fd, chunk, room);
    if (k > 0) {
        char hdr[32];
        int n = snprintf(hdr, sizeof hdr, "{\"type\":\"%s\"}", type);
        send_frame(c->id, hdr, n, chunk, (size_t)k);
        flow_take(&c->flow, (size_t)k);
        return (size_t)k;
    }
    if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close(*fd);
        *fd = -1;
    }
    return 0;
}

static void reap_children(void)
{
    int status;
    pid_t pid;
    /* As PID 1 this also collects orphans that were never ours. */
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (int i = 0; i < MAX_CHANNELS; i++)
            if (chans[i].kind == CHAN_EXEC && chans[i].proc.pid == pid && !chans[i].proc.exited)
                proc_reaped(&chans[i].proc, status);
}

/* Sends `exit` for reaped children once the host can hear it. Whatever the process wrote before
 * exiting is already in the pipes, so draining them now delivers all of it first. We do not wait
 * for EOF: a background grandchild may hold the pipes open for ever. When the host's credit runs
 * out mid-drain, `exit` waits for more credit (the host grants it as its reader catches up). */
static void flush_exited(void)
{
    for (int i = 0; i < MAX_CHANNELS && port.ready && !port.broken; i++) {
        struct chan *c = &chans[i];
        if (c->kind != CHAN_EXEC || !c->proc.exited)
            continue;
        size_t k;
        while (!c->discard && c->proc.out_fd >= 0 && c->drained < DRAIN_LIMIT && (k = forward_output(c, &c->proc.out_fd, "stdout")))
            c->drained += k;
        while (!c->discard && c->proc.err_fd >= 0 && c->drained < DRAIN_LIMIT && (k = forward_output(c, &c->proc.err_fd, "stderr")))
            c->drained += k;
        int open = c->proc.out_fd >= 0 || c->proc.err_fd >= 0;
        if (!c->discard && open && c->drained < DRAIN_LIMIT && !flow_room(&c->flow, 1))
            continue; /* out of credit: the rest of the output, then exit, once the host grants more */
        const char *sig;
        int code = proc_exit_code(&c->proc, &sig);
        struct json_writer w;
        jw_init(&w, hdr_buf, sizeof hdr_buf);
        jw_obj(&w);
        jw_key(&w, "type");
        jw_cstr(&w, PYRO_MSG_EXIT);
        jw_key(&w, "exit_code");
        jw_int(&w, code);
        jw_key(&w, "signal");
        jw_cstr(&w, sig);
        jw_key(&w, "timed_out");
        jw_bool(&w, c->proc.timed_out);
        jw_key(&w, "duration_ms");
        jw_int(&w, (long long)(c->proc.end_ms - c->proc.start_ms));
        jw_obj_end(&w);
        send_frame(c->id, hdr_buf, jw_finish(&w), NULL, 0);
        chan_free(c);
    }
}

/* ---------- request handlers ---------- */

struct req {
    uint32_t channel;
    struct chan *chan; /* live channel for ON_LIVE handlers */
    const struct json *hdr;
    const unsigned char *payload;
    uint32_t payload_len;
};

static void on_hello(struct req *r)
{
    static const char *const capabilities[] = {"exec", "pty", "setup"};
    uint64_t v;
    if (json_u64(json_get(r->hdr, "protocol"), &v)) {
        send_error(0, "BAD_REQUEST", "hello needs a numeric \"protocol\"");
        return;
    }
    if (v != PYRO_PROTOCOL_VERSION) {
        port.ready = 0;
        send_error(0, "PROTOCOL_MISMATCH", "agent speaks protocol %d, host sent %llu", PYRO_PROTOCOL_VERSION,
                   (unsigned long long)v);
        return;
    }
    port.ready = 1;
    struct json_writer w;
    jw_init(&w, hdr_buf, sizeof hdr_buf);
    jw_obj(&w);
    jw_key(&w, "type");
    jw_cstr(&w, PYRO_MSG_HELLO);
    jw_key(&w, "protocol");
    jw_int(&w, PYRO_PROTOCOL_VERSION);
    jw_key(&w, "agent_version");
    jw_cstr(&w, PYRO_AGENT_VERSION);
    jw_key(&w, "capabilities");
    jw_arr(&w);
    for (size_t i = 0; i < sizeof capabilities / sizeof capabilities[0]; i++)
        jw_cstr(&w, capabilities[i]);
    jw_arr_end(&w);
    jw_obj_end(&w);
    send_frame(0, hdr_buf, jw_finish(&w), NULL, 0);
}

static void on_ping(struct req *r)
{
    (void)r;
    send_type(0, PYRO_MSG_PONG);
}

static void on_shutdown(struct req *r)
{
    (void)r;
    logmsg("shutdown requested");
    kill_all_children();
    if (is_pid1)
        kill(-1, SIGKILL); /* everything else in the VM, too */
    sync();
    if (!is_pid1)
        exit(0);
    reboot(RB_POWER_OFF);
    for (;;) /* PID 1 must never exit: that panics the kernel */
        pause();
}

/* After a restore: entropy, clock, identity and mounts, answered before any command runs
 * (the host sends nothing else until setup_done). */
static void on_setup(struct req *r)
{
    struct setup_req req;
    char why[512];
    const char *bad = setup_parse(r->hdr, &req);
    if (bad) {
        send_error(0, "BAD_REQUEST", "setup: %s", bad);
        return;
    }
    if (setup_apply(&req, r->payload, r->payload_len, why, sizeof why)) {
        logmsg("setup failed: %s", why);
        send_error(0, "SETUP_FAILED", "%s", why);
        return;
    }
    send_type(0, PYRO_MSG_SETUP_DONE);
}

/* Reads "cols"/"rows" (each 1..PTY_MAX_DIM); absent or null keeps the value already there. */
static const char *parse_winsize(const struct json *h, unsigned *cols, unsigned *rows)
{
    const char *key[2] = {"cols", "rows"};
    unsigned *out[2] = {cols, rows};
    for (int i = 0; i < 2; i++) {
        const struct json *v = json_get(h, key[i]);
        uint64_t n;
        if (!v || v->type == JSON_NULL)
            continue;
        if (json_u64(v, &n) || n < 1 || n > PTY_MAX_DIM)
            return "\"cols\" and \"rows\" must be integers from 1 to 1000";
        *out[i] = (unsigned)n;
    }
    return NULL;
}

/* Validates the exec header into argv/env; returns NULL on success or a reason. */
static const char *parse_exec(const struct json *h, struct exec_spec *s, char ***argv_out, char ***env_out)
{
    const struct json *a = json_get(h, "argv"), *e = json_get(h, "env"), *v;
    size_t n = 0;
    memset(s, 0, sizeof *s);
    if (!a || a->type != JSON_ARRAY || !a->child)
        return "\"argv\" must be a non-empty array of strings";
    for (v = a->child; v; v = v->next, n++)
        if (!json_cstr(v))
            return "\"argv\" must be a non-empty array of strings (without NUL)";
    if (!json_cstr(a->child)[0])
        return "\"argv[0]\" is empty";
    if (e && e->type != JSON_NULL && e->type != JSON_OBJECT)
        return "\"env\" must be an object of strings";
    size_t ne = 0;
    for (v = e && e->type == JSON_OBJECT ? e->child : NULL; v; v = v->next, ne++)
        if (!json_cstr(v) || !v->key_len || strlen(v->key) != v->key_len || strchr(v->key, '='))
            return "\"env\" keys must be non-empty without '=', values strings without NUL";
    v = json_get(h, "cwd");
    if (v && v->type != JSON_NULL && (!json_cstr(v) || !v->len))
        return "\"cwd\" must be a non-empty string";
    s->cwd = v && v->type == JSON_STRING ? v->str : image_default_cwd();
    v = json_get(h, "timeout_ms");
    if (v && v->type != JSON_NULL && json_u64(v, &s->timeout_ms))
        return "\"timeout_ms\" must be a non-negative integer";
    v = json_get(h, "stdin");
    if (v && v->type != JSON_NULL && v->type != JSON_TRUE && v->type != JSON_FALSE)
        return "\"stdin\" must be a boolean";
    s->want_stdin = v && v->type == JSON_TRUE;
    v = json_get(h, "pty");
    if (v && v->type != JSON_NULL && v->type != JSON_TRUE && v->type != JSON_FALSE)
        return "\"pty\" must be a boolean";
    s->pty = v && v->type == JSON_TRUE;
    s->cols = PTY_DEFAULT_COLS;
    s->rows = PTY_DEFAULT_ROWS;
    const char *bad = parse_winsize(h, &s->cols, &s->rows);
    if (bad)
        return bad;

    char **argv = calloc(n + 1, sizeof *argv), **env = calloc(ne + 1, sizeof *env);
    *argv_out = argv;
    *env_out = env;
    if (!argv || !env)
        return "out of memory";
    n = 0;
    for (v = a->child; v; v = v->next)
        argv[n++] = (char *)v->str;
    ne = 0;
    for (v = e && e->type == JSON_OBJECT ? e->child : NULL; v; v = v->next) {
        if (!(env[ne] = malloc(v->key_len + v->len + 2)))
            return "out of memory";
        sprintf(env[ne++], "%s=%s", v->key, v->str);
    }
    s->argv = argv;
    s->env = env;
    return NULL;
}

/* "window": the output credit the channel starts with; absent means no flow control. */
static const char *parse_window(const struct json *h, uint64_t *window, int *on)
{
    const struct json *v = json_get(h, "window");
    *on = v && v->type != JSON_NULL;
    if (*on && json_u64(v, window))
        return "\"window\" must be a non-negative integer";
    return NULL;
}

static void on_exec(struct req *r)
{
    struct exec_spec spec;
    char **argv = NULL, **env = NULL, err[512];
    const char *bad = parse_exec(r->hdr, &spec, &argv, &env);
    struct chan *c = NULL;
    uint64_t window = 0;
    int flow_on = 0;
    if (bad) {
        send_error(r->channel, "BAD_REQUEST", "%s", bad);
    } else if ((bad = parse_window(r->hdr, &window, &flow_on))) {
        send_error(r->channel, "BAD_REQUEST", "%s", bad);
    } else if (!(c = chan_alloc(r->channel, CHAN_EXEC))) {
        send_error(r->channel, "SPAWN_FAILED", "too many processes (limit %d)", MAX_CHANNELS);
    } else {
        flow_init(&c->flow, flow_on, window);
        int rc = proc_spawn(&c->proc, &spec, err, sizeof err);
        if (rc != EXEC_OK) {
            send_error(r->channel, rc == EXEC_BAD_CWD ? "BAD_CWD" : "SPAWN_FAILED", "%s", err);
            chan_free(c);
        } else {
            struct json_writer w;
            jw_init(&w, hdr_buf, sizeof hdr_buf);
            jw_obj(&w);
            jw_key(&w, "type");
            jw_cstr(&w, PYRO_MSG_STARTED);
            jw_key(&w, "pid");
            jw_int(&w, c->proc.pid);
            jw_obj_end(&w);
            send_frame(r->channel, hdr_buf, jw_finish(&w), NULL, 0);
        }
    }
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
    free(argv);
}

static void on_stdin(struct req *r)
{
    proc_stdin_push(&r->chan->proc, r->payload, r->payload_len);
}

static void on_stdin_eof(struct req *r)
{
    proc_stdin_eof(&r->chan->proc);
}

static void on_credit(struct req *r)
{
    uint64_t bytes;
    if (json_u64(json_get(r->hdr, "bytes"), &bytes) || !bytes) {
        chan_fail(r->chan, "BAD_REQUEST", "\"credit\" needs \"bytes\", a positive integer");
        return;
    }
    flow_grant(&r->chan->flow, bytes);
}

static void on_resize(struct req *r)
{
    struct proc *p = &r->chan->proc;
    unsigned cols = 0, rows = 0;
    const char *bad = p->pty_fd < 0 ? "\"resize\" needs a channel started with \"pty\": true"
                                    : parse_winsize(r->hdr, &cols, &rows);
    if (!bad && (!cols || !rows))
        bad = "\"resize\" needs \"cols\" and \"rows\"";
    if (bad)
        chan_fail(r->chan, "BAD_REQUEST", bad);
    else
        pty_resize(p->pty_fd, cols, rows); /* after the child exited this is harmless */
}

static void on_signal(struct req *r)
{
    const char *name = json_cstr(json_get(r->hdr, "signal"));
    int sig = name ? signal_by_name(name) : 0;
    if (!sig) {
        chan_fail(r->chan, "BAD_REQUEST", "\"signal\" must be one of INT, TERM, HUP, KILL");
        return;
    }
    /* A host that cancels (or went away: the supervisor kills a departed client's processes)
     * grants no more credit; waiting for it would keep the channel for ever. */
    if (sig == SIGKILL)
        r->chan->discard = 1;
    if (!r->chan->proc.exited)
        proc_signal(&r->chan->proc, sig);
}

/* ---------- dispatch ---------- */

enum where {
    ON_CONTROL, /* channel 0 */
    ON_OPEN,    /* first frame on a new channel: opens it */
    ON_LIVE,    /* a channel of `kind` that is already open */
};

static const struct handler {
    const char *type;
    enum where where;
    enum chan_kind kind;
    void (*fn)(struct req *);
} handlers[] = {
    {PYRO_MSG_HELLO, ON_CONTROL, CHAN_FREE, on_hello},
    {PYRO_MSG_PING, ON_CONTROL, CHAN_FREE, on_ping},
    {PYRO_MSG_SHUTDOWN, ON_CONTROL, CHAN_FREE, on_shutdown},
    {PYRO_MSG_SETUP, ON_CONTROL, CHAN_FREE, on_setup},
    {PYRO_MSG_EXEC, ON_OPEN, CHAN_EXEC, on_exec},
    {PYRO_MSG_STDIN, ON_LIVE, CHAN_EXEC, on_stdin},
    {PYRO_MSG_STDIN_EOF, ON_LIVE, CHAN_EXEC, on_stdin_eof},
    {PYRO_MSG_SIGNAL, ON_LIVE, CHAN_EXEC, on_signal},
    {PYRO_MSG_RESIZE, ON_LIVE, CHAN_EXEC, on_resize},
    {PYRO_MSG_CREDIT, ON_LIVE, CHAN_EXEC, on_credit},
};

static void route(struct req *r, const char *type)
{
    const struct handler *match = NULL, *known = NULL;
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        const struct handler *h = &handlers[i];
        if (strcmp(h->type, type))
            continue;
        known = h;
        if (r->channel == 0 ? h->where == ON_CONTROL
                            : !r->chan ? h->where == ON_OPEN : h->where == ON_LIVE && h->kind == r->chan->kind)
            match = h;
    }
    if (!port.ready && strcmp(type, PYRO_MSG_HELLO)) {
        send_error(0, "BAD_REQUEST", "expected hello before \"%s\"", type);
    } else if (match) {
        match->fn(r);
    } else if (!known) {
        reject(r->channel, "UNKNOWN_TYPE", "unknown message type \"%s\"", type);
    } else if (r->channel && !r->chan && known->where == ON_LIVE) {
        /* e.g. stdin racing the process's exit: the host has or will get `exit`; drop it. */
    } else {
        reject(r->channel, "BAD_REQUEST", "\"%s\" is not valid on channel %u", type, r->channel);
    }
}

static void handle_frame(const struct frame *f)
{
    struct json_doc doc;
    char why[128];
    if (json_parse(&doc, f->header, f->header_len, why, sizeof why)) {
        reject(f->channel, "BAD_REQUEST", "header is not valid JSON: %s", why);
        return;
    }
    const char *type = json_cstr(json_get(doc.root, "type"));
    if (doc.root->type != JSON_OBJECT) {
        reject(f->channel, "BAD_REQUEST", "header is not a JSON object");
    } else if (!type) {
        reject(f->channel, "BAD_REQUEST", "header has no string \"type\"");
    } else {
        struct req r = {f->channel, chan_find(f->channel), doc.root, f->payload, f->payload_len};
        route(&r, type);
    }
    json_doc_free(&doc);
}

/* ---------- the port ---------- */

static int find_virtio_port(char *path, size_t len)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *de;
    int found = 0;
    while (d && !found && (de = readdir(d))) {
        char fn[PATH_MAX], name[256] = "";
        if (de->d_name[0] == '.')
            continue;
        snprintf(fn, sizeof fn, "/sys/class/virtio-ports/%s/name", de->d_name);
        FILE *f = fopen(fn, "re");
        if (!f)
            continue;
        if (fgets(name, sizeof name, f))
            name[strcspn(name, "\n")] = '\0';
        fclose(f);
        if (!strcmp(name, PYRO_AGENT_PORT_NAME)) {
            snprintf(path, len, "/dev/%s", de->d_name);
            found = 1;
        }
    }
    if (d)
        closedir(d);
    return found;
}

static void port_open(void)
{
    static int warned;
    char path[PATH_MAX];
    struct stat st;
    if (port.path_opt)
        snprintf(path, sizeof path, "%s", port.path_opt);
    else if (!find_virtio_port(path, sizeof path)) {
        if (!warned++)
            logmsg("no virtio port named %s yet; retrying", PYRO_AGENT_PORT_NAME);
        return;
    }
    port.is_sock = stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
    if (port.is_sock) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t len = strlen(path);
        if (len >= sizeof sa.sun_path) {
            errno = ENAMETOOLONG;
        } else {
            memcpy(sa.sun_path, path, len + 1);
            port.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        }
        if (port.fd >= 0 && connect(port.fd, (struct sockaddr *)&sa, sizeof sa)) {
            close(port.fd);
            port.fd = -1;
        }
    } else {
        port.fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
    }
    if (port.fd < 0) {
        int e = errno;
        if (port.path_opt && !is_pid1) { /* an explicit --port that does not work is a usage error */
            logmsg("cannot open %s: %s", path, strerror(e));
            exit(1);
        }
        if (!warned++)
            logmsg("cannot open %s: %s; retrying", path, strerror(e));
        return;
    }
    warned = 0;
    /* Non-blocking reads keep the loop responsive; frame_write waits for POLLOUT itself. */
    fcntl(port.fd, F_SETFL, fcntl(port.fd, F_GETFL) | O_NONBLOCK);
    frame_reader_reset(&port.rd);
    port.ready = port.hup = port.broken = 0;
}

/* Host went away. Children and channel state stay; the next host must say hello again. */
static void port_lost(void)
{
    frame_reader_reset(&port.rd);
    port.ready = port.broken = 0;
    if (port.is_sock) {
        if (!is_pid1) { /* test mode: a closed socket means the test is over */
            kill_all_children();
            exit(0);
        }
        close(port.fd);
        port.fd = -1;
    } else {
        /* virtio-serial reports POLLHUP until a host connects; poll again shortly. */
        port.hup = 1;
        port.hup_until = now_ms() + HUP_BACKOFF_MS;
    }
}

/* The byte stream is out of step and cannot be resynced: start a fresh connection. */
static void port_reset(void)
{
    frame_reader_reset(&port.rd);
    port.ready = port.broken = 0;
    if (port.is_sock && !is_pid1) {
        kill_all_children();
        exit(1);
    }
    close(port.fd);
    port.fd = -1;
}

static void read_port(void)
{
    for (int i = 0; i < FRAMES_PER_WAKEUP && port.fd >= 0 && !port.broken && stdin_queued() < STDIN_HIGH_WATER;
         i++) {
        struct frame f = {0};
        switch (frame_read(&port.rd, port.fd, &f)) {
        case FRAME_READY:
            handle_frame(&f);
            frame_free(&f);
            break;
        case FRAME_TOO_BIG:
            reject(f.channel, "BAD_REQUEST", "header_len over %d bytes; frame dropped", PYRO_MAX_HEADER_BYTES);
            break;
        case FRAME_CORRUPT:
            send_error(0, "BAD_REQUEST", "corrupt frame (frame_len over %d or header_len inconsistent); "
                       "resetting connection", PYRO_MAX_FRAME_BYTES);
            port_reset();
            return;
        case FRAME_AGAIN:
            return;
        default: /* EOF or read error */
            port_lost();
            return;
        }
    }
}

/* ---------- main loop ---------- */

static void on_sigchld(int sig)
{
    int saved = errno;
    (void)sig;
    (void)!write(sigchld_pipe[1], "x", 1);
    errno = saved;
}

struct watch {
    struct chan *c;
    int which; /* 0 stdout, 1 stderr, 2 stdin */
};

static void loop_once(void)
{
    static struct pollfd pfd[2 + 3 * MAX_CHANNELS];
    static struct watch watch[2 + 3 * MAX_CHANNELS];
    uint64_t now = now_ms();
    int n = 0, port_idx = -1, timeout = -1;

    if (port.fd < 0)
        port_open();
    pfd[n++] = (struct pollfd){sigchld_pipe[0], POLLIN, 0};
    if (port.hup && now >= port.hup_until)
        port.hup = 0;
    if (port.fd >= 0 && !port.hup) {
        port_idx = n;
        pfd[n++] = (struct pollfd){port.fd, stdin_queued() < STDIN_HIGH_WATER ? POLLIN : 0, 0};
    }
    for (int i = 0; i < MAX_CHANNELS; i++) {
        struct chan *c = &chans[i];
        if (c->kind != CHAN_EXEC)
            continue;
        /* Output is only read while a host listens and has credit left for this channel;
         * otherwise the pipes fill and children block on write (real backpressure). */
        int may_read = port.ready && flow_room(&c->flow, 1) > 0;
        if (may_read && c->proc.out_fd >= 0) {
            watch[n] = (struct watch){c, 0};
            pfd[n++] = (struct pollfd){c->proc.out_fd, POLLIN, 0};
        }
        if (may_read && c->proc.err_fd >= 0) {
            watch[n] = (struct watch){c, 1};
            pfd[n++] = (struct pollfd){c->proc.err_fd, POLLIN, 0};
        }
        if (c->proc.in_fd >= 0 && proc_stdin_pending(&c->proc)) {
            watch[n] = (struct watch){c, 2};
            pfd[n++] = (struct pollfd){c->proc.in_fd, POLLOUT, 0};
        }
        if (!c->proc.exited && !c->proc.timed_out && c->proc.deadline_ms) {
            uint64_t left = c->proc.deadline_ms > now ? c->proc.deadline_ms - now : 0;
            if (timeout < 0 || left < (uint64_t)timeout)
                timeout = (int)(left > INT_MAX ? INT_MAX : left);
        }
    }
    if (port.fd < 0 || port.hup) {
        int wait = port.fd < 0 ? 1000 : HUP_BACKOFF_MS;
        if (timeout < 0 || timeout > wait)
            timeout = wait;
    }

    if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
        logmsg("poll: %s", strerror(errno));
        return;
    }

    char drain[64];
    while (read(sigchld_pipe[0], drain, sizeof drain) > 0)
        ;
    reap_children(); /* every turn: cheap, and robust against coalesced signals */
    now = now_ms();
    for (int i = 0; i < MAX_CHANNELS; i++)
        if (chans[i].kind == CHAN_EXEC)
            proc_check_timeout(&chans[i].proc, now);

    /* Children first: handling port frames below may free channels these entries point to. */
    for (int i = 0; i < n; i++) {
        if (i == 0 || i == port_idx || !pfd[i].revents)
            continue;
        struct proc *p = &watch[i].c->proc;
        if (watch[i].which == 0 && p->out_fd == pfd[i].fd)
            forward_output(watch[i].c, &p->out_fd, PYRO_MSG_STDOUT);
        else if (watch[i].which == 1 && p->err_fd == pfd[i].fd)
            forward_output(watch[i].c, &p->err_fd, PYRO_MSG_STDERR);
        else if (watch[i].which == 2 && p->in_fd == pfd[i].fd)
            proc_stdin_pump(p);
    }

    if (port_idx >= 0 && port.fd >= 0 && !port.broken) {
        short re = pfd[port_idx].revents;
        if (re & POLLIN)
            read_port(); /* reads any data first; EOF shows up as a 0-byte read */
        else if (re & (POLLHUP | POLLERR | POLLNVAL))
            port_lost();
    }

    flush_exited();
    if (port.broken)
        port_lost();
}

int main(int argc, char **argv)
{
    int tool = fstool_main(argc, argv);
    if (tool >= 0)
        return tool;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port.path_opt = argv[++i];
        } else if (!strncmp(argv[i], "--port=", 7)) {
            port.path_opt = argv[i] + 7;
        } else if (!strcmp(argv[i], "--version")) {
            printf("pyro-agent %s (protocol %d)\n", PYRO_AGENT_VERSION, PYRO_PROTOCOL_VERSION);
            return 0;
        } else {
            fprintf(stderr, "usage: pyro-agent [--port PATH]\n");
            if (getpid() != 1)
                return 2;
        }
    }
    is_pid1 = getpid() == 1;

    /* Fds 0-2 must exist, or a pipe could land there and lose CLOEXEC in dup2 dances. */
    for (int fd; (fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0;) {
        if (fd > 2) {
            close(fd);
            break;
        }
        fcntl(fd, F_SETFD, 0);
    }

    signal(SIGPIPE, SIG_IGN); /* a vanished host or child shows up as EPIPE instead */
    if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK)) {
        logmsg("pipe: %s", strerror(errno));
        if (!is_pid1)
            return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);

    frame_reader_init(&port.rd);
    for (;;)
        loop_once();
}
