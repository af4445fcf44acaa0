#define _GNU_SOURCE
#include "frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "protocol.h"

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

int frame_parse_prefix(const unsigned char p[FRAME_PREFIX_BYTES], uint32_t *frame_len, uint32_t *channel,
                       uint32_t *header_len)
{
    *frame_len = get_u32(p);
    *channel = get_u32(p + 4);
    *header_len = get_u32(p + 8);
    if (*frame_len < 8 || *frame_len > PYRO_MAX_FRAME_BYTES || *header_len > *frame_len - 8)
        return FRAME_CORRUPT;
    if (*header_len > PYRO_MAX_HEADER_BYTES)
        return FRAME_TOO_BIG; /* frame_len is sane, so we can skip it and stay in sync */
    return FRAME_READY;
}

int frame_encode_prefix(unsigned char p[FRAME_PREFIX_BYTES], uint32_t channel, size_t header_len,
                        size_t payload_len)
{
    if (header_len > PYRO_MAX_HEADER_BYTES || payload_len > PYRO_MAX_FRAME_BYTES ||
        8 + header_len + payload_len > PYRO_MAX_FRAME_BYTES)
        return -1;
    put_u32(p, (uint32_t)(8 + header_len + payload_len));
    put_u32(p + 4, channel);
    put_u32(p + 8, (uint32_t)header_len);
    return 0;
}

void frame_reader_init(struct frame_reader *r)
{
    memset(r, 0, sizeof *r);
}

void frame_reader_reset(struct frame_reader *r)
{
    free(r->body);
    frame_reader_init(r);
}

void frame_free(struct frame *f)
{
    free(f->body);
    memset(f, 0, sizeof *f);
}

/* One read(); returns bytes read, 0 on EOF, -1 with errno. */
static ssize_t read_some(int fd, void *buf, size_t n)
{
    ssize_t k;
    do
        k = read(fd, buf, n);
    while (k < 0 && errno == EINTR);
    return k;
}

int frame_read(struct frame_reader *r, int fd, struct frame *out)
{
    for (;;) {
        unsigned char scratch[4096];
        unsigned char *dst;
        size_t want;
        if (r->skip) {
            dst = scratch;
            want = r->skip < sizeof scratch ? r->skip : sizeof scratch;
        } else if (!r->in_body) {
            dst = r->prefix + r->have;
            want = FRAME_PREFIX_BYTES - r->have;
        } else {
            dst = r->body + r->have;
            want = r->body_len - r->have;
        }
        ssize_t k = want ? read_some(fd, dst, want) : 0;
        if (want && k < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? FRAME_AGAIN : FRAME_IO_ERROR;
        if (want && k == 0) {
            frame_reader_reset(r);
            return FRAME_EOF;
        }
        if (r->skip) {
            r->skip -= (uint32_t)k;
            continue;
        }
        r->have += (size_t)k;
        if (!r->in_body) {
            if (r->have < FRAME_PREFIX_BYTES)
                continue;
            uint32_t frame_len;
            int st = frame_parse_prefix(r->prefix, &frame_len, &r->channel, &r->header_len);
            r->have = 0;
            if (st == FRAME_CORRUPT)
                return FRAME_CORRUPT;
            if (st == FRAME_TOO_BIG) {
                r->skip = frame_len - 8;
                out->channel = r->channel;
                return FRAME_TOO_BIG;
            }
            /* Sizes are checked above, so this allocation is bounded by the frame limit. */
            r->body_len = frame_len - 8;
            r->body = malloc((size_t)r->body_len + 1); /* +1: never malloc(0) */
            if (!r->body) {
                errno = ENOMEM;
                return FRAME_IO_ERROR;
            }
            r->in_body = 1;
        }
        if (r->have < r->body_len)
            continue;
        out->channel = r->channel;
        out->header_len = r->header_len;
        out->payload_len = r->body_len - r->header_len;
        out->body = r->body;
        out->header = (const char *)r->body;
        out->payload = r->body + r->header_len;
        r->body = NULL;
        r->in_body = 0;
        r->have = 0;
        return FRAME_READY;
    }
}

int frame_write(int fd, uint32_t channel, const char *header, size_t header_len, const void *payload,
                size_t payload_len)
{
    unsigned char prefix[FRAME_PREFIX_BYTES];
    if (frame_encode_prefix(prefix, channel, header_len, payload_len)) {
        errno = EMSGSIZE;
        return -1;
    }
    struct iovec iov[3] = {
        {prefix, sizeof prefix}, {(void *)header, header_len}, {(void *)payload, payload_len}};
    struct iovec *v = iov;
    int cnt = 3;
    while (cnt > 0) {
        if (v->iov_len == 0) {
            v++, cnt--;
            continue;
        }
        ssize_t k = writev(fd, v, cnt);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            /* Blocking here is deliberate: it is what bounds the agent's memory. */
            struct pollfd p = {fd, POLLOUT, 0};
            if (poll(&p, 1, -1) < 0 && errno != EINTR)
                return -1;
            if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p.revents & POLLOUT)) {
                errno = EPIPE;
                return -1;
            }
            continue;
        }
        size_t done = (size_t)k;
        while (cnt > 0 && done >= v->iov_len) {
            done -= v->iov_len;
            v++, cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + done;
            v->iov_len -= done;
        }
    }
    return 0;
}
