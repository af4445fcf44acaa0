#include "flow.h"
#include "protocol.h"

void flow_init(struct flow *f, int on, uint64_t window)
{
    f->on = on;
    f->credit = 0;
    if (on)
        flow_grant(f, window);
}

void flow_grant(struct flow *f, uint64_t bytes)
{
    uint64_t room = PYRO_MAX_WINDOW_BYTES - f->credit;
    f->credit += bytes < room ? bytes : room;
}

size_t flow_room(const struct flow *f, size_t want)
{
    if (!f->on || want <= f->credit)
        return want;
    return (size_t)f->credit;
}

void flow_take(struct flow *f, size_t n)
{
    if (f->on)
        f->credit = n < f->credit ? f->credit - n : 0;
}
