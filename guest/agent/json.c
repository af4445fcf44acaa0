#define _GNU_SOURCE
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- arena: one parse = a few big blocks, freed together ---------- */

struct block {
    struct block *next;
    size_t used, cap;
    max_align_t data[];
};

struct parser {
    const unsigned char *p, *end;
    struct block *blocks;
    const char *err;
    int depth;
};

static void *palloc(struct parser *ps, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct block *b = ps->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        b = malloc(sizeof *b + cap);
        if (!b) {
            ps->err = "out of memory";
            return NULL;
        }
        b->next = ps->blocks;
        b->used = 0;
        b->cap = cap;
        ps->blocks = b;
    }
    void *r = (char *)b->data + b->used;
    b->used += n;
    return r;
}

/* ---------- reader ---------- */

static struct json *parse_value(struct parser *ps);

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static struct json *fail(struct parser *ps, const char *why)
{
    if (!ps->err)
        ps->err = why;
    return NULL;
}

/* Length of one valid UTF-8 sequence at p (no overlongs, surrogates or > U+10FFFF), else 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    size_t n = (size_t)(end - p);
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* Parses a string starting at the opening quote. Decoded text is never longer than the raw text
 * (\uXXXX is 6 bytes for at most 3, a surrogate pair 12 for 4), so the raw length bounds it. */
static int parse_string(struct parser *ps, const char **out, size_t *out_len)
{
    const unsigned char *s = ++ps->p, *q = s;
    while (q < ps->end && *q != '"')
        q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
    if (q >= ps->end)
        return fail(ps, "unterminated string"), -1;
    char *buf = palloc(ps, (size_t)(q - s) + 1), *o = buf;
    if (!buf)
        return -1;
    const unsigned char *p = s;
    while (p < q) {
        unsigned c = *p;
        if (c < 0x20)
            return fail(ps, "control character in string"), -1;
        if (c != '\\') {
            size_t n = utf8_seq(p, q);
            if (!n)
                return fail(ps, "invalid UTF-8 in string"), -1;
            memcpy(o, p, n);
            o += n;
            p += n;
            continue;
        }
        c = p[1];
        p += 2;
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (q - p < 4 || hex4(p, &cp))
                return fail(ps, "bad \\u escape"), -1;
            p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fail(ps, "lone low surrogate"), -1;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) || lo < 0xdc00 ||
                    lo > 0xdfff)
                    return fail(ps, "lone high surrogate"), -1;
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            o = put_utf8(o, cp);
            break;
        }
        default:
            return fail(ps, "bad escape"), -1;
        }
    }
    *o = '\0';
    *out = buf;
    *out_len = (size_t)(o - buf);
    ps->p = q + 1;
    return 0;
}

static int is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

static struct json *parse_number(struct parser *ps, struct json *v)
{
    const unsigned char *p = ps->p, *start = p;
    if (p < ps->end && *p == '-')
        p++;
    if (!is_digit(p, ps->end))
        return fail(ps, "bad number");
    if (*p == '0')
        p++;
    else
        while (is_digit(p, ps->end))
            p++;
    if (p < ps->end && *p == '.') {
        if (!is_digit(++p, ps->end))
            return fail(ps, "bad number");
        while (is_digit(p, ps->end))
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, ps->end))
            return fail(ps, "bad number");
        while (is_digit(p, ps->end))
            p++;
    }
    /* strtod needs a terminated copy: the input is not NUL-terminated. */
    char *tmp = palloc(ps, (size_t)(p - start) + 1);
    if (!tmp)
        return NULL;
    memcpy(tmp, start, (size_t)(p - start));
    tmp[p - start] = '\0';
    v->type = JSON_NUMBER;
    v->num = strtod(tmp, NULL);
    ps->p = p;
    return v;
}

static int literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return 0;
    ps->p += n;
    return 1;
}

static struct json *parse_container(struct parser *ps, struct json *v, int is_obj)
{
    const unsigned char close = is_obj ? '}' : ']';
    struct json **tail = &v->child;
    v->type = is_obj ? JSON_OBJECT : JSON_ARRAY;
    if (++ps->depth > JSON_MAX_DEPTH)
        return fail(ps, "nesting too deep");
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return v;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        skip_ws(ps);
        if (is_obj) {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "expected member name");
            if (parse_string(ps, &key, &key_len))
                return NULL;
            /* Duplicate keys are rejected so both sides agree on what a header says. */
            for (const struct json *m = v->child; m; m = m->next)
                if (m->key_len == key_len && !memcmp(m->key, key, key_len))
                    return fail(ps, "duplicate member name");
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail(ps, "expected ':'");
            ps->p++;
        }
        struct json *item = parse_value(ps);
        if (!item)
            return NULL;
        item->key = key;
        item->key_len = key_len;
        *tail = item;
        tail = &item->next;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return v;
        }
        return fail(ps, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static struct json *parse_value(struct parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of input");
    struct json *v = palloc(ps, sizeof *v);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    switch (*ps->p) {
    case '{': return parse_container(ps, v, 1);
    case '[': return parse_container(ps, v, 0);
    case '"':
        v->type = JSON_STRING;
        return parse_string(ps, &v->str, &v->len) ? NULL : v;
    case 't': v->type = JSON_TRUE; return literal(ps, "true") ? v : fail(ps, "bad literal");
    case 'f': v->type = JSON_FALSE; return literal(ps, "false") ? v : fail(ps, "bad literal");
    case 'n': v->type = JSON_NULL; return literal(ps, "null") ? v : fail(ps, "bad literal");
    default: return parse_number(ps, v);
    }
}

static void free_blocks(struct block *b)
{
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
}

int json_parse(struct json_doc *doc, const char *text, size_t len, char *err, size_t errlen)
{
    struct parser ps = {(const unsigned char *)text, (const unsigned char *)text + len, NULL, NULL, 0};
    struct json *root = parse_value(&ps);
    if (root) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            root = fail(&ps, "trailing characters");
    }
    if (!root) {
        if (err && errlen)
            snprintf(err, errlen, "%s at offset %zu", ps.err, (size_t)(ps.p - (const unsigned char *)text));
        free_blocks(ps.blocks);
        doc->root = NULL;
        doc->blocks = NULL;
        return -1;
    }
    doc->root = root;
    doc->blocks = ps.blocks;
    return 0;
}

void json_doc_free(struct json_doc *doc)
{
    free_blocks(doc->blocks);
    doc->blocks = NULL;
    doc->root = NULL;
}

const struct json *json_get(const struct json *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (const struct json *m = obj->child; m; m = m->next)
        if (m->key_len == n && !memcmp(m->key, key, n))
            return m;
    return NULL;
}

const char *json_cstr(const struct json *v)
{
    if (!v || v->type != JSON_STRING || strlen(v->str) != v->len)
        return NULL;
    return v->str;
}

int json_u64(const struct json *v, uint64_t *out)
{
    /* Below 2^53 (JS Number.MAX_SAFE_INTEGER): beyond it doubles stop being exact integers. */
    if (!v || v->type != JSON_NUMBER || !(v->num >= 0 && v->num < 9007199254740992.0))
        return -1;
    uint64_t u = (uint64_t)v->num;
    if ((double)u != v->num)
        return -1;
    *out = u;
    return 0;
}

/* ---------- writer ---------- */

static void put(struct json_writer *w, const char *s, size_t n)
{
    if (w->err || w->cap - w->len < n) {
        w->err = 1;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* Emits the ',' between siblings; a value right after its key needs none. */
static void sep(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0 && !w->first[w->depth - 1])
        put(w, ",", 1);
    if (w->depth > 0)
        w->first[w->depth - 1] = 0;
}

void jw_init(struct json_writer *w, char *buf, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
}

static void open_(struct json_writer *w, const char *c)
{
    sep(w);
    if (w->depth >= JSON_MAX_DEPTH) {
        w->err = 1;
        return;
    }
    put(w, c, 1);
    w->first[w->depth++] = 1;
}

static void close_(struct json_writer *w, const char *c)
{
    if (w->depth <= 0 || w->after_key) {
        w->err = 1;
        return;
    }
    w->depth--;
    put(w, c, 1);
}

void jw_obj(struct json_writer *w) { open_(w, "{"); }
void jw_obj_end(struct json_writer *w) { close_(w, "}"); }
void jw_arr(struct json_writer *w) { open_(w, "["); }
void jw_arr_end(struct json_writer *w) { close_(w, "]"); }

static void escaped(struct json_writer *w, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    put(w, "\"", 1);
    while (p < end) {
        unsigned c = *p;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(w, esc, 2);
            p++;
        } else if (c == '\n') {
            put(w, "\\n", 2), p++;
        } else if (c == '\t') {
            put(w, "\\t", 2), p++;
        } else if (c == '\r') {
            put(w, "\\r", 2), p++;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(w, esc, 6);
            p++;
        } else {
            /* Keep the output valid UTF-8 whatever we were handed (e.g. odd file names). */
            size_t k = utf8_seq(p, end);
            if (k) {
                put(w, (const char *)p, k);
                p += k;
            } else {
                put(w, "\\ufffd", 6);
                p++;
            }
        }
    }
    put(w, "\"", 1);
}

void jw_key(struct json_writer *w, const char *key)
{
    if (w->depth <= 0 || w->after_key) {
        w->err = 1;
        return;
    }
    sep(w);
    escaped(w, key, strlen(key));
    put(w, ":", 1);
    w->after_key = 1;
}

void jw_str(struct json_writer *w, const char *s, size_t n)
{
    sep(w);
    escaped(w, s, n);
}

void jw_cstr(struct json_writer *w, const char *s)
{
    if (s)
        jw_str(w, s, strlen(s));
    else
        jw_null(w);
}

void jw_int(struct json_writer *w, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    sep(w);
    put(w, tmp, (size_t)n);
}

void jw_bool(struct json_writer *w, int v)
{
    sep(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void jw_null(struct json_writer *w)
{
    sep(w);
    put(w, "null", 4);
}

long jw_finish(struct json_writer *w)
{
    if (w->err || w->depth != 0 || w->after_key)
        return -1;
    return (long)w->len;
}
