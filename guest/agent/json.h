/* Small strict JSON reader (for request headers) and writer (for replies). */
#ifndef PYRO_JSON_H
#define PYRO_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    struct json *next;  /* next array element / object member */
    struct json *child; /* first element / member of an array or object */
    const char *key;    /* member name (decoded, NUL-terminated) when inside an object */
    size_t key_len;
    const char *str;    /* decoded string (NUL-terminated; may contain NUL, see len) */
    size_t len;
    double num;
};

/* Everything a parse allocates lives in one arena, freed with json_doc_free. */
struct json_doc {
    struct json *root;
    void *blocks;
};

/* Returns 0 on success; on failure -1 with a short reason in err. */
int json_parse(struct json_doc *doc, const char *text, size_t len, char *err, size_t errlen);
void json_doc_free(struct json_doc *doc);

/* Lookup helpers; all return NULL / -1 when absent or of the wrong type. */
const struct json *json_get(const struct json *obj, const char *key);
const char *json_cstr(const struct json *v); /* string without embedded NUL */
int json_u64(const struct json *v, uint64_t *out); /* non-negative integer < 2^53 */

/* Writer: builds one JSON value into a caller buffer; overflow sets err. */
struct json_writer {
    char *buf;
    size_t len, cap;
    int err;
    int depth;
    int after_key;
    unsigned char first[JSON_MAX_DEPTH];
};

void jw_init(struct json_writer *w, char *buf, size_t cap);
void jw_obj(struct json_writer *w);
void jw_obj_end(struct json_writer *w);
void jw_arr(struct json_writer *w);
void jw_arr_end(struct json_writer *w);
void jw_key(struct json_writer *w, const char *key);
void jw_str(struct json_writer *w, const char *s, size_t n);
void jw_cstr(struct json_writer *w, const char *s); /* NULL writes null */
void jw_int(struct json_writer *w, long long v);
void jw_bool(struct json_writer *w, int v);
void jw_null(struct json_writer *w);
/* Length of the finished text, or -1 on overflow / unbalanced nesting. */
long jw_finish(struct json_writer *w);

#endif
