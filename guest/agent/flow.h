/* Output credit of one exec channel (docs/protocol.md, "Flow control"). The agent reads a child's
 * output only while the host has granted credit for it, so a slow host makes the child block on
 * write instead of making anyone buffer. Knows nothing about frames or fds. */
#ifndef PYRO_FLOW_H
#define PYRO_FLOW_H

#include <stddef.h>
#include <stdint.h>

struct flow {
    int on;          /* 0: the host asked for no flow control (unlimited output) */
    uint64_t credit; /* bytes the agent may still send; never above PYRO_MAX_WINDOW_BYTES */
};

/* `on` with the exec's initial `window` (clamped), or off. */
void flow_init(struct flow *f, int on, uint64_t window);
/* Adds a `credit` frame's bytes, clamped so no host can make the agent owe more than the cap. */
void flow_grant(struct flow *f, uint64_t bytes);
/* How many of `want` bytes may be read and sent now (0 when the credit is used up). */
size_t flow_room(const struct flow *f, size_t want);
/* Records `n` bytes sent (n <= flow_room). */
void flow_take(struct flow *f, size_t n);

#endif
