/* The `setup` request (setup.h): make a VM restored from a shared saved state its own. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "setup.h"

/* From <linux/random.h> and <linux/fs.h>, which musl does not ship. */
#define PYRO_RNDADDENTROPY 0x40085203u
#define PYRO_RNDRESEEDCRNG 0x5207u
#define PYRO_BLKFLSBUF 0x1261u

static int all_chars(const char *s, size_t max, const char *allowed_extra, int lower_hex_only)
{
    size_t n = strlen(s);
    if (!n || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = lower_hex_only ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
                                : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                   (allowed_extra && strchr(allowed_extra, c)));
        if (!ok)
            return 0;
    }
    return 1;
}

static int safe_target(const char *p)
{
    if (!p || p[0] != '/' || strlen(p) > 255 || strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//"))
        return 0;
    size_t n = strlen(p);
    if (n >= 3 && !strcmp(p + n - 3, "/..")) /* ends in /.. */
        return 0;
    return all_chars(p, 255, "/_-.", 0);
}

const char *setup_parse(const struct json *hdr, struct setup_req *out)
{
    const struct json *v;
    memset(out, 0, sizeof *out);
    v = json_get(hdr, "time_ms");
    if (v && v->type != JSON_NULL) {
        if (json_u64(v, &out->time_ms))
            return "\"time_ms\" must be a non-negative integer";
        out->has_time = 1;
    }
    v = json_get(hdr, "hostname");
    if (v && v->type != JSON_NULL) {
        out->hostname = json_cstr(v);
        if (!out->hostname || !all_chars(out->hostname, 63, "-", 0))
            return "\"hostname\" must be 1 to 63 letters, digits or '-'";
    }
    v = json_get(hdr, "machine_id");
    if (v && v->type != JSON_NULL) {
        out->machine_id = json_cstr(v);
        if (!out->machine_id || strlen(out->machine_id) != 32 || !all_chars(out->machine_id, 32, NULL, 1))
            return "\"machine_id\" must be 32 lowercase hex digits";
    }
    v = json_get(hdr, "mounts");
    if (v && v->type != JSON_NULL) {
        if (v->type != JSON_ARRAY)
            return "\"mounts\" must be an array";
        for (const struct json *m = v->child; m; m = m->next) {
            if (out->mount_count == SETUP_MAX_MOUNTS)
                return "too many \"mounts\"";
            struct setup_mount *sm = &out->mounts[out->mount_count++];
            if (m->type != JSON_OBJECT)
                return "each mount must be an object";
            sm->serial = json_cstr(json_get(m, "serial"));
            sm->target = json_cstr(json_get(m, "target"));
            const struct json *ro = json_get(m, "read_only");
            if (!sm->serial || !all_chars(sm->serial, 20, "-_", 0))
                return "a mount's \"serial\" must be 1 to 20 letters, digits, '-' or '_'";
            if (!safe_target(sm->target))
                return "a mount's \"target\" must be a plain absolute path";
            if (ro && ro->type != JSON_TRUE && ro->type != JSON_FALSE && ro->type != JSON_NULL)
                return "a mount's \"read_only\" must be a boolean";
            sm->read_only = ro && ro->type == JSON_TRUE;
        }
    }
    return NULL;
}

static int fail(char *why, size_t len, const char *what, const char *arg)
{
    snprintf(why, len, "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "", strerror(errno));
    return -1;
}

static int find_disk(const char *serial, char *dev, size_t len)
{
    DIR *d = opendir("/sys/block");
    struct dirent *de;
    int found = 0;
    while (d && !found && (de = readdir(d))) {
        char fn[PATH_MAX], text[64] = "";
        if (strncmp(de->d_name, "vd", 2))
            continue;
        snprintf(fn, sizeof fn, "/sys/block/%s/serial", de->d_name);
        FILE *f = fopen(fn, "re");
        if (!f)
            continue;
        if (fgets(text, sizeof text, f))
            text[strcspn(text, "\n")] = '\0';
        fclose(f);
        if (!strcmp(text, serial)) {
            snprintf(dev, len, "/dev/%s", de->d_name);
            found = 1;
        }
    }
    if (d)
        closedir(d);
    return found;
}

static void mkdir_p(const char *target)
{
    char p[256];
    snprintf(p, sizeof p, "%s", target);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static int mount_disk(const struct setup_mount *m, char *why, size_t len)
{
    char dev[PATH_MAX];
    if (!find_disk(m->serial, dev, sizeof dev)) {
        errno = ENODEV;
        return fail(why, len, "no disk with serial", m->serial);
    }
    /* The saved VM read this device while another file stood behind it (its partition scan
     * cached those blocks): drop the cache so the filesystem is read from the real disk. */
    int fd = open(dev, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(why, len, "cannot open", dev);
    if (ioctl(fd, PYRO_BLKFLSBUF, 0)) {
        close(fd);
        return fail(why, len, "cannot flush the buffers of", dev);
    }
    close(fd);
    mkdir_p(m->target);
    if (mount(dev, m->target, "ext4", m->read_only ? MS_RDONLY : 0, m->read_only ? "noload" : ""))
        return fail(why, len, "cannot mount", m->target);
    return 0;
}

static int write_machine_id(const char *id, char *why, size_t len)
{
    struct stat st;
    /* Renewed where the image has one; an image without it keeps having none. */
    if (stat("/etc/machine-id", &st) || st.st_size == 0)
        return 0;
    int fd = open("/etc/.machine-id.pyro", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
    if (fd < 0)
        return fail(why, len, "cannot write", "/etc/machine-id");
    char line[34];
    snprintf(line, sizeof line, "%s\n", id);
    int bad = write(fd, line, 33) != 33;
    close(fd);
    if (bad || rename("/etc/.machine-id.pyro", "/etc/machine-id"))
        return fail(why, len, "cannot replace", "/etc/machine-id");
    return 0;
}

static int reseed(const unsigned char *entropy, size_t n, char *why, size_t len)
{
    struct {
        int entropy_count;
        int buf_size;
        unsigned char buf[SETUP_MAX_ENTROPY];
    } pool;
    if (n < 16 || n > SETUP_MAX_ENTROPY) {
        errno = EINVAL;
        return fail(why, len, "setup needs 16 to 512 bytes of entropy", NULL);
    }
    pool.entropy_count = (int)(n * 8);
    pool.buf_size = (int)n;
    memcpy(pool.buf, entropy, n);
    int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(why, len, "cannot open", "/dev/urandom");
    /* Credit the host's bytes, then make every CPU's generator rekey from the new pool at once. */
    int rc = ioctl(fd, PYRO_RNDADDENTROPY, &pool);
    if (!rc)
        rc = ioctl(fd, PYRO_RNDRESEEDCRNG, 0);
    int saved = errno;
    close(fd);
    memset(&pool, 0, sizeof pool);
    errno = saved;
    return rc ? fail(why, len, "cannot reseed", "/dev/urandom") : 0;
}

int setup_apply(const struct setup_req *req, const unsigned char *entropy, size_t entropy_len, char *why,
                size_t why_len)
{
    if (reseed(entropy, entropy_len, why, why_len))
        return -1;
    if (req->has_time) {
        struct timespec ts = {(time_t)(req->time_ms / 1000), (long)(req->time_ms % 1000) * 1000000L};
        if (clock_settime(CLOCK_REALTIME, &ts))
            return fail(why, why_len, "cannot set the clock", NULL);
    }
    if (req->hostname && sethostname(req->hostname, strlen(req->hostname)))
        return fail(why, why_len, "cannot set the hostname", req->hostname);
    if (req->machine_id && write_machine_id(req->machine_id, why, why_len))
        return -1;
    for (size_t i = 0; i < req->mount_count; i++)
        if (mount_disk(&req->mounts[i], why, why_len))
            return -1;
    return 0;
}
