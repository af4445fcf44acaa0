/* Unit tests for json.c and frame.c. Run via tests/run.sh (ASan + UBSan).
 * `unit --write-golden DIR` regenerates the golden frames shared with the TypeScript tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../flow.h"
#include "../frame.h"
#include "../fstool.h"
#include "../json.h"
#include "../protocol.h"
#include "../setup.h"

static int failures, checks;

#define CHECK(cond)                                                                                        \
    do {                                                                                                   \
        checks++;                                                                                          \
        if (!(cond)) {                                                                                     \
            failures++;                                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                       \
        }                                                                                                  \
    } while (0)

/* ---------- json ---------- */

static int parses(const char *s)
{
    struct json_doc d;
    char err[128];
    int ok = json_parse(&d, s, strlen(s), err, sizeof err) == 0;
    json_doc_free(&d);
    return ok;
}

static void test_json_valid(void)
{
    const char *good[] = {
        "{}", "[]", "0", "-0", "1.5e3", "-12.25E-2", "true", "false", "null", "\"\"", " { \"a\" : [ 1 , 2 ] } ",
        "{\"a\":{\"b\":{\"c\":[null,true,false,\"x\"]}}}", "\"\\u00e9\\ud83d\\ude00\\n\\t\\\\\\/\\\"\"",
        "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int ok = parses(good[i]);
        if (!ok)
            fprintf(stderr, "should parse: %s\n", good[i]);
        CHECK(ok);
    }
}

static void test_json_invalid(void)
{
    const char *bad[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"a\nb\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "{} x", "[1 2]",
        "{\"a\":1,\"a\":2}", "'a'", "NaN", "Infinity",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ok = parses(bad[i]);
        if (ok)
            fprintf(stderr, "should fail: %s\n", bad[i]);
        CHECK(!ok);
    }
    /* embedded NUL in the raw input is a control character */
    struct json_doc d;
    CHECK(json_parse(&d, "\"a\0b\"", 5, NULL, 0) == -1);
}

static void test_json_depth(void)
{
    char buf[256];
    for (int depth = 1; depth <= 40; depth++) {
        memset(buf, '[', (size_t)depth);
        memset(buf + depth, ']', (size_t)depth);
        buf[2 * depth] = '\0';
        CHECK(parses(buf) == (depth <= JSON_MAX_DEPTH));
    }
    /* a huge nesting attempt must fail quickly, not blow the stack */
    size_t n = 60000;
    char *deep = malloc(n);
    memset(deep, '[', n);
    struct json_doc d;
    CHECK(json_parse(&d, deep, n, NULL, 0) == -1);
    free(deep);
}

static void test_json_values(void)
{
    const char *s = "{\"type\":\"exec\",\"argv\":[\"/bin/sh\",\"-c\",\"echo hi\"],\"n\":30000,\"neg\":-1,"
                    "\"frac\":1.5,\"big\":9007199254740993,\"u\":\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\","
                    "\"nul\":\"a\\u0000b\",\"t\":true}";
    struct json_doc d;
    char err[128];
    CHECK(json_parse(&d, s, strlen(s), err, sizeof err) == 0);
    CHECK(d.root && d.root->type == JSON_OBJECT);
    CHECK(!strcmp(json_cstr(json_get(d.root, "type")), "exec"));
    const struct json *argv = json_get(d.root, "argv");
    CHECK(argv && argv->type == JSON_ARRAY);
    CHECK(!strcmp(json_cstr(argv->child), "/bin/sh"));
    CHECK(!strcmp(json_cstr(argv->child->next->next), "echo hi"));
    CHECK(argv->child->next->next->next == NULL);
    uint64_t u = 0;
    CHECK(json_u64(json_get(d.root, "n"), &u) == 0 && u == 30000);
    CHECK(json_u64(json_get(d.root, "neg"), &u) == -1);
    CHECK(json_u64(json_get(d.root, "frac"), &u) == -1);
    CHECK(json_u64(json_get(d.root, "big"), &u) == -1);
    CHECK(json_u64(json_get(d.root, "type"), &u) == -1);
    CHECK(!strcmp(json_cstr(json_get(d.root, "u")), "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    const struct json *nul = json_get(d.root, "nul");
    CHECK(nul && nul->len == 3 && !memcmp(nul->str, "a\0b", 3));
    CHECK(json_cstr(nul) == NULL); /* not usable as a C string */
    CHECK(json_get(d.root, "t")->type == JSON_TRUE);
    CHECK(json_get(d.root, "missing") == NULL);
    CHECK(json_get(argv, "type") == NULL);
    json_doc_free(&d);
}

static void test_json_writer(void)
{
    char buf[512];
    struct json_writer w;
    jw_init(&w, buf, sizeof buf);
    jw_obj(&w);
    jw_key(&w, "type");
    jw_cstr(&w, "exit");
    jw_key(&w, "exit_code");
    jw_int(&w, -3);
    jw_key(&w, "signal");
    jw_cstr(&w, NULL);
    jw_key(&w, "timed_out");
    jw_bool(&w, 0);
    jw_key(&w, "list");
    jw_arr(&w);
    jw_int(&w, 1);
    jw_bool(&w, 1);
    jw_arr(&w);
    jw_arr_end(&w);
    jw_obj(&w);
    jw_obj_end(&w);
    jw_arr_end(&w);
    jw_obj_end(&w);
    long n = jw_finish(&w);
    const char *want = "{\"type\":\"exit\",\"exit_code\":-3,\"signal\":null,\"timed_out\":false,"
                       "\"list\":[1,true,[],{}]}";
    CHECK(n == (long)strlen(want) && !memcmp(buf, want, (size_t)n));

    /* escaping round trip over every byte 1..127 plus some UTF-8 */
    char raw[200];
    size_t rn = 0;
    for (int c = 1; c < 128; c++)
        raw[rn++] = (char)c;
    memcpy(raw + rn, "\xc3\xa9\xf0\x9f\x98\x80", 6);
    rn += 6;
    raw[rn++] = '\0'; /* NUL too */
    jw_init(&w, buf, sizeof buf);
    jw_str(&w, raw, rn);
    n = jw_finish(&w);
    CHECK(n > 0);
    struct json_doc d;
    CHECK(json_parse(&d, buf, (size_t)n, NULL, 0) == 0);
    CHECK(d.root && d.root->type == JSON_STRING && d.root->len == rn && !memcmp(d.root->str, raw, rn));
    json_doc_free(&d);

    /* invalid UTF-8 becomes U+FFFD so output stays valid */
    jw_init(&w, buf, sizeof buf);
    jw_str(&w, "a\xff" "b", 3);
    n = jw_finish(&w);
    CHECK(n == 10 && !memcmp(buf, "\"a\\ufffdb\"", 10));

    /* overflow and misuse are reported, not written past the buffer */
    jw_init(&w, buf, 8);
    jw_cstr(&w, "0123456789");
    CHECK(jw_finish(&w) == -1);
    jw_init(&w, buf, sizeof buf);
    jw_obj(&w);
    CHECK(jw_finish(&w) == -1);
    jw_init(&w, buf, sizeof buf);
    jw_obj(&w);
    jw_key(&w, "a");
    jw_obj_end(&w);
    CHECK(jw_finish(&w) == -1);
}

/* ---------- frames ---------- */

struct golden {
    const char *file;
    uint32_t channel;
    const char *header;
    const char *payload;
};

static const struct golden goldens[] = {
    {"hello.bin", 0, "{\"type\":\"hello\",\"protocol\":1,\"host_version\":\"2.8.0\"}", ""},
    {"exec.bin", 7, "{\"type\":\"exec\",\"argv\":[\"/bin/sh\",\"-c\",\"echo hi\"]}", ""},
    {"stdout.bin", 7, "{\"type\":\"stdout\"}", "hi\n"},
};

static size_t encode(unsigned char *out, uint32_t ch, const char *hdr, size_t hl, const void *pl, size_t plen)
{
    if (frame_encode_prefix(out, ch, hl, plen))
        return 0;
    memcpy(out + FRAME_PREFIX_BYTES, hdr, hl);
    memcpy(out + FRAME_PREFIX_BYTES + hl, pl, plen);
    return FRAME_PREFIX_BYTES + hl + plen;
}

static int read_file(const char *path, unsigned char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    *len = fread(buf, 1, cap, f);
    fclose(f);
    return 0;
}

static void test_golden(const char *dir, int write)
{
    for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
        const struct golden *g = &goldens[i];
        unsigned char want[512], got[512];
        size_t wn = encode(want, g->channel, g->header, strlen(g->header), g->payload, strlen(g->payload)), gn = 0;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, g->file);
        if (write) {
            FILE *f = fopen(path, "wb");
            CHECK(f && fwrite(want, 1, wn, f) == wn);
            if (f)
                fclose(f);
            continue;
        }
        CHECK(read_file(path, got, sizeof got, &gn) == 0);
        if (gn != wn || memcmp(got, want, wn))
            fprintf(stderr, "golden mismatch: %s\n", path);
        CHECK(gn == wn && !memcmp(got, want, wn));

        /* and the reader decodes the file back to the same frame */
        int fd = open(path, O_RDONLY);
        struct frame_reader r;
        struct frame f;
        frame_reader_init(&r);
        CHECK(fd >= 0 && frame_read(&r, fd, &f) == FRAME_READY);
        CHECK(f.channel == g->channel && f.header_len == strlen(g->header) &&
              !memcmp(f.header, g->header, f.header_len) && f.payload_len == strlen(g->payload) &&
              !memcmp(f.payload, g->payload, f.payload_len));
        frame_free(&f);
        CHECK(frame_read(&r, fd, &f) == FRAME_EOF);
        frame_reader_reset(&r);
        close(fd);
    }
}

static void test_prefix_limits(void)
{
    unsigned char p[FRAME_PREFIX_BYTES];
    uint32_t fl, ch, hl;
    CHECK(frame_encode_prefix(p, 1, PYRO_MAX_HEADER_BYTES + 1, 0) == -1);
    CHECK(frame_encode_prefix(p, 1, 100, PYRO_MAX_FRAME_BYTES - 8 - 100 + 1) == -1);
    CHECK(frame_encode_prefix(p, 1, 100, PYRO_MAX_FRAME_BYTES - 8 - 100) == 0);
    CHECK(frame_parse_prefix(p, &fl, &ch, &hl) == FRAME_READY && fl == PYRO_MAX_FRAME_BYTES && ch == 1 && hl == 100);
    /* hand-built prefixes: frame_len, channel, header_len */
    struct { uint32_t fl, hl; int want; } cases[] = {
        {8, 0, FRAME_READY},
        {7, 0, FRAME_CORRUPT},
        {PYRO_MAX_FRAME_BYTES + 1, 10, FRAME_CORRUPT},
        {0xffffffffu, 10, FRAME_CORRUPT},
        {20, 13, FRAME_CORRUPT},
        {8 + 70000, 70000, FRAME_TOO_BIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t v[3] = {cases[i].fl, 5, cases[i].hl};
        for (int k = 0; k < 3; k++)
            for (int b = 0; b < 4; b++)
                p[k * 4 + b] = (unsigned char)(v[k] >> (8 * b));
        CHECK(frame_parse_prefix(p, &fl, &ch, &hl) == cases[i].want);
    }
}

/* Frames written with frame_write come back intact through a non-blocking socket, even when
 * the reader only gets a byte at a time. */
static void test_roundtrip(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    static unsigned char big[PYRO_MAX_CHUNK_BYTES];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7);
    struct frame_reader r;
    struct frame f;
    frame_reader_init(&r);

    /* small frame, fed byte by byte through a pipe-like reader */
    const char *h = "{\"type\":\"stdin\"}";
    unsigned char enc[64];
    size_t en = encode(enc, 42, h, strlen(h), "xyz", 3);
    int got = FRAME_AGAIN;
    for (size_t i = 0; i < en; i++) {
        CHECK(got == FRAME_AGAIN);
        CHECK(write(sv[0], enc + i, 1) == 1);
        got = frame_read(&r, sv[1], &f);
    }
    CHECK(got == FRAME_READY && f.channel == 42 && f.payload_len == 3 && !memcmp(f.payload, "xyz", 3));
    frame_free(&f);

    /* a 64 KiB payload via frame_write; read concurrently so neither side blocks for ever */
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 4; i++)
            if (frame_write(sv[0], (uint32_t)i, h, strlen(h), big, sizeof big))
                _exit(1);
        _exit(0);
    }
    for (int i = 0; i < 4; i++) {
        while ((got = frame_read(&r, sv[1], &f)) == FRAME_AGAIN)
            usleep(1000);
        CHECK(got == FRAME_READY && f.channel == (uint32_t)i && f.payload_len == sizeof big &&
              !memcmp(f.payload, big, sizeof big));
        frame_free(&f);
    }

    /* oversized header: reported once, then skipped so the next frame still parses */
    unsigned char hdr[FRAME_PREFIX_BYTES];
    uint32_t v[3] = {8 + 70000 + 3, 9, 70000};
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 4; b++)
            hdr[k * 4 + b] = (unsigned char)(v[k] >> (8 * b));
    CHECK(write(sv[0], hdr, sizeof hdr) == (ssize_t)sizeof hdr);
    CHECK(frame_read(&r, sv[1], &f) == FRAME_TOO_BIG && f.channel == 9);
    pid = fork();
    if (pid == 0) {
        static char junk[70003];
        memset(junk, 'j', sizeof junk);
        if (write(sv[0], junk, sizeof junk) != (ssize_t)sizeof junk ||
            frame_write(sv[0], 11, h, strlen(h), "ok", 2))
            _exit(1);
        _exit(0);
    }
    while ((got = frame_read(&r, sv[1], &f)) == FRAME_AGAIN)
        usleep(1000);
    CHECK(got == FRAME_READY && f.channel == 11 && f.payload_len == 2 && !memcmp(f.payload, "ok", 2));
    frame_free(&f);

    /* out-of-bounds frame_len is corruption */
    v[0] = PYRO_MAX_FRAME_BYTES + 1;
    v[2] = 2;
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 4; b++)
            hdr[k * 4 + b] = (unsigned char)(v[k] >> (8 * b));
    CHECK(write(sv[0], hdr, sizeof hdr) == (ssize_t)sizeof hdr);
    CHECK(frame_read(&r, sv[1], &f) == FRAME_CORRUPT);
    frame_reader_reset(&r);

    /* EOF mid-frame drops the partial frame */
    CHECK(write(sv[0], enc, 5) == 5);
    close(sv[0]);
    CHECK(frame_read(&r, sv[1], &f) == FRAME_EOF);
    frame_reader_reset(&r);
    close(sv[1]);

    /* writing past the limits is refused before anything is sent */
    errno = 0;
    CHECK(frame_write(1, 1, h, PYRO_MAX_HEADER_BYTES + 1, NULL, 0) == -1 && errno == EMSGSIZE);
    while (wait(NULL) > 0)
        ;
}

/* ---------- flow (output credit) ---------- */

static void test_flow(void)
{
    struct flow f;

    /* off: everything may be read, taking changes nothing */
    flow_init(&f, 0, 0);
    CHECK(flow_room(&f, 65536) == 65536);
    flow_take(&f, 65536);
    CHECK(flow_room(&f, 65536) == 65536);

    /* on: reads are cut to the credit, then stop until the host grants more */
    flow_init(&f, 1, 100000);
    CHECK(flow_room(&f, 65536) == 65536);
    flow_take(&f, 65536);
    CHECK(flow_room(&f, 65536) == 100000 - 65536);
    flow_take(&f, 100000 - 65536);
    CHECK(flow_room(&f, 65536) == 0);
    CHECK(flow_room(&f, 1) == 0);
    flow_grant(&f, 10);
    CHECK(flow_room(&f, 65536) == 10);

    /* a window of 0 sends nothing until the first credit */
    flow_init(&f, 1, 0);
    CHECK(flow_room(&f, 1) == 0);

    /* credit abuse: huge or repeated grants never exceed the cap, and never wrap around */
    flow_init(&f, 1, UINT64_MAX);
    CHECK(f.credit == PYRO_MAX_WINDOW_BYTES);
    flow_grant(&f, UINT64_MAX);
    CHECK(f.credit == PYRO_MAX_WINDOW_BYTES);
    for (int i = 0; i < 1000; i++)
        flow_grant(&f, PYRO_MAX_WINDOW_BYTES / 2);
    CHECK(f.credit == PYRO_MAX_WINDOW_BYTES);
    flow_take(&f, 1);
    flow_grant(&f, 5);
    CHECK(f.credit == PYRO_MAX_WINDOW_BYTES);

    /* taking more than the credit (never done by the agent) cannot underflow */
    flow_init(&f, 1, 3);
    flow_take(&f, 10);
    CHECK(f.credit == 0);
}

/* ---------- setup ---------- */

static const char *setup_reason(const char *text, struct setup_req *req)
{
    static struct json_doc d;
    char err[128];
    json_doc_free(&d);
    memset(&d, 0, sizeof d);
    if (json_parse(&d, text, strlen(text), err, sizeof err))
        return "unparsable";
    return setup_parse(d.root, req);
}

static void test_setup_parse(void)
{
    struct setup_req r;
    CHECK(setup_reason("{\"type\":\"setup\"}", &r) == NULL && !r.has_time && !r.mount_count);
    CHECK(setup_reason("{\"type\":\"setup\",\"time_ms\":1700000000123,\"hostname\":\"pyro\","
                       "\"machine_id\":\"0123456789abcdef0123456789abcdef\",\"mounts\":[{\"serial\":"
                       "\"pyro-workspace\",\"target\":\"/workspace\"},{\"serial\":\"pyro-baseline\","
                       "\"target\":\"/run/pyro/baseline\",\"read_only\":true}]}",
                       &r) == NULL);
    CHECK(r.has_time && r.time_ms == 1700000000123ull);
    CHECK(r.mount_count == 2 && !r.mounts[0].read_only && r.mounts[1].read_only);
    CHECK(!strcmp(r.mounts[1].target, "/run/pyro/baseline"));
    /* Hostile or malformed values are refused before anything is applied. */
    CHECK(setup_reason("{\"time_ms\":-1}", &r) != NULL);
    CHECK(setup_reason("{\"hostname\":\"a b\"}", &r) != NULL);
    CHECK(setup_reason("{\"hostname\":\"\"}", &r) != NULL);
    CHECK(setup_reason("{\"machine_id\":\"0123\"}", &r) != NULL);
    CHECK(setup_reason("{\"machine_id\":\"0123456789ABCDEF0123456789abcdef\"}", &r) != NULL);
    CHECK(setup_reason("{\"mounts\":{}}", &r) != NULL);
    CHECK(setup_reason("{\"mounts\":[{\"serial\":\"x\",\"target\":\"relative\"}]}", &r) != NULL);
    CHECK(setup_reason("{\"mounts\":[{\"serial\":\"x\",\"target\":\"/a/../etc\"}]}", &r) != NULL);
    CHECK(setup_reason("{\"mounts\":[{\"serial\":\"x\",\"target\":\"/a/..\"}]}", &r) != NULL);
    CHECK(setup_reason("{\"mounts\":[{\"serial\":\"x;y\",\"target\":\"/w\"}]}", &r) != NULL);
    CHECK(setup_reason("{\"mounts\":[{\"serial\":\"x\",\"target\":\"/w\",\"read_only\":1}]}", &r) != NULL);
    CHECK(setup_reason("{\"mounts\":[{\"serial\":\"a\",\"target\":\"/a\"},{\"serial\":\"b\",\"target\":\"/b\"},"
                       "{\"serial\":\"c\",\"target\":\"/c\"},{\"serial\":\"d\",\"target\":\"/d\"},"
                       "{\"serial\":\"e\",\"target\":\"/e\"}]}",
                       &r) != NULL);
    setup_reason("{}", &r); /* frees the last document */
}

/* ---------- fstool (freeze|thaw|usage) ---------- */

static void test_fstool(void)
{
    /* df's counts: used blocks times the fragment size, used inodes; nonsense never wraps. */
    struct statvfs st = {.f_frsize = 4096, .f_blocks = 100, .f_bfree = 40, .f_files = 64, .f_ffree = 52};
    uint64_t bytes, inodes;
    fstool_used(&st, &bytes, &inodes);
    CHECK(bytes == 60 * 4096 && inodes == 12);
    struct statvfs lying = {.f_frsize = 4096, .f_blocks = 1, .f_bfree = 9, .f_files = 1, .f_ffree = 5};
    fstool_used(&lying, &bytes, &inodes);
    CHECK(bytes == 0 && inodes == 0);

    /* Not a tool verb: the agent starts as usual. Freezing a real filesystem here is unsafe
     * (it would be the test host's), so freeze and thaw are only checked for their refusals;
     * tests/guest/snapshot-busybox.test.ts freezes a guest's /workspace. */
    char *none[] = {"pyro-agent", NULL};
    char *port[] = {"pyro-agent", "--port", "/dev/null", NULL};
    CHECK(fstool_main(1, none) == -1);
    CHECK(fstool_main(3, port) == -1);
    char *no_path[] = {"pyro-agent", "freeze", NULL};
    char *extra[] = {"pyro-agent", "thaw", "/", "/", NULL};
    char *missing[] = {"pyro-agent", "freeze", "/nonexistent/pyro-fstool", NULL};
    char *file[] = {"pyro-agent", "thaw", "/dev/null", NULL};
    CHECK(fstool_main(2, no_path) == 2);
    CHECK(fstool_main(4, extra) == 2);
    CHECK(fstool_main(3, missing) == 1);
    CHECK(fstool_main(3, file) == 1); /* not a directory */

    /* usage prints df's two lines for a real directory. */
    int out[2];
    CHECK(pipe(out) == 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(out[1], 1);
    char *usage[] = {"pyro-agent", "usage", "/tmp", NULL};
    int rc = fstool_main(3, usage);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(out[1]);
    char buf[256] = {0};
    ssize_t n = read(out[0], buf, sizeof buf - 1);
    close(out[0]);
    unsigned long long used = 0, iused = 0;
    CHECK(rc == 0 && n > 0);
    CHECK(sscanf(buf, "Used IUsed\n%llu %llu\n", &used, &iused) == 2);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-golden")) {
        test_golden(argv[2], 1);
        return failures != 0;
    }
    const char *golden_dir = argc > 1 ? argv[1] : "guest/agent/tests/golden";
    test_json_valid();
    test_json_invalid();
    test_json_depth();
    test_json_values();
    test_json_writer();
    test_prefix_limits();
    test_roundtrip();
    test_flow();
    test_setup_parse();
    test_fstool();
    test_golden(golden_dir, 0);
    printf("unit: %d checks, %d failures\n", checks, failures);
    return failures != 0;
}
