/* Frames: u32 frame_len, u32 channel, u32 header_len, header, payload (all little-endian). */
#ifndef PYRO_FRAME_H
#define PYRO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_PREFIX_BYTES 12

enum frame_status {
    FRAME_READY,    /* a complete frame is in *out */
    FRAME_AGAIN,    /* need more bytes (fd would block) */
    FRAME_EOF,      /* peer closed; a partial frame is dropped */
    FRAME_IO_ERROR, /* read failed, errno set */
    FRAME_TOO_BIG,  /* header_len over the limit; out->channel set, the frame body is skipped */
    FRAME_CORRUPT,  /* frame_len out of bounds or inconsistent: the stream cannot be resynced */
};

struct frame {
    uint32_t channel;
    uint32_t header_len, payload_len;
    const char *header;
    const unsigned char *payload;
    unsigned char *body; /* owns header + payload */
};

struct frame_reader {
    unsigned char prefix[FRAME_PREFIX_BYTES];
    size_t have;        /* prefix bytes read, then body bytes read */
    unsigned char *body;
    uint32_t body_len;  /* header + payload bytes: frame_len - 8 */
    uint32_t skip;      /* bytes still to discard from an oversized frame */
    uint32_t channel, header_len;
    int in_body;
};

/* Validates a prefix. Returns FRAME_READY, FRAME_TOO_BIG or FRAME_CORRUPT. */
int frame_parse_prefix(const unsigned char p[FRAME_PREFIX_BYTES], uint32_t *frame_len, uint32_t *channel,
                       uint32_t *header_len);
/* Returns -1 when header/payload would break the limits. */
int frame_encode_prefix(unsigned char p[FRAME_PREFIX_BYTES], uint32_t channel, size_t header_len,
                        size_t payload_len);

void frame_reader_init(struct frame_reader *r);
void frame_reader_reset(struct frame_reader *r); /* drops any partial frame */
/* Reads from a non-blocking fd until one frame is complete or the fd would block. */
int frame_read(struct frame_reader *r, int fd, struct frame *out);
void frame_free(struct frame *f);

/* Writes one whole frame, riding out EINTR, partial writes and EAGAIN (waits for POLLOUT).
 * Returns 0, or -1 with errno (EPIPE when the peer hung up, EMSGSIZE on limit). */
int frame_write(int fd, uint32_t channel, const char *header, size_t header_len, const void *payload,
                size_t payload_len);

#endif
