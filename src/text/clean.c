/* CLIP's text cleaning (see clean.h), step by step as the Python reference does it.
 * ftfy.fix_text: the text is cut into segments at each '\n' (and every 1,000,000 code points);
 * each segment goes through ftfy's fixes in ftfy's order, repeated until nothing changes.
 * Not done: ftfy's mojibake detection (fix_encoding); see docs/tokenizer.md. */
#include "text/clean.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "text/tables.h"

#define FTFY_MAX_SEGMENT 1000000   /* ftfy's max_decode_length */
#define FTFY_MAX_PASSES 16         /* ftfy repeats until stable; real text needs 2 or 3 */

/* ---------------------------------------------------------------- buffers */
int u32vec_reserve(u32vec *v, size_t n) {
    if (n <= v->cap) return 0;
    size_t cap = v->cap ? v->cap : 64;
    while (cap < n) cap *= 2;
    uint32_t *p = realloc(v->p, cap * sizeof *p);
    if (!p) return -1;
    v->p = p; v->cap = cap;
    return 0;
}

void u32vec_free(u32vec *v) { free(v->p); v->p = NULL; v->n = v->cap = 0; }

void text_scratch_free(text_scratch *s) {
    u32vec_free(&s->a); u32vec_free(&s->b); u32vec_free(&s->c);
    free(s->utf8); s->utf8 = NULL; s->utf8_cap = 0;
}

static inline int push(u32vec *v, uint32_t c) {
    if (v->n == v->cap && u32vec_reserve(v, v->n + 1)) return -1;
    v->p[v->n++] = c;
    return 0;
}

static int push_utf8(u32vec *v, const char *s) {   /* appends a UTF-8 table string */
    while (*s) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &c);
        if (k <= 0) return 0;   /* tables are valid UTF-8 */
        if (push(v, (uint32_t)c)) return -1;
        s += k;
    }
    return 0;
}

static int copy_into(u32vec *dst, const uint32_t *src, size_t n) {
    if (u32vec_reserve(dst, n)) return -1;
    if (n) memcpy(dst->p, src, n * sizeof *src);
    dst->n = n;
    return 0;
}

/* ---------------------------------------------------------------- character classes */
static int in_ranges(const text_range *r, int n, uint32_t c) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < r[mid].lo) hi = mid - 1;
        else if (c > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int text_re_space(uint32_t c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int text_py_isspace(uint32_t c) { return text_re_space(c) || (c >= 0x1C && c <= 0x1F); }

static int is_nd(uint32_t c) {   /* Python re's \d on str: decimal digits */
    if (c < 128) return c >= '0' && c <= '9';
    return utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ND;
}

static inline int is_ascii_alnum(uint32_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---------------------------------------------------------------- entity tables */
/* strcmp of a code point sequence against an ASCII key. */
static int cmp_key(const uint32_t *s, size_t n, const char *key) {
    size_t i = 0;
    for (; i < n && key[i]; i++) {
        uint32_t k = (unsigned char)key[i];
        if (s[i] != k) return s[i] < k ? -1 : 1;
    }
    if (i < n) return 1;
    return key[i] ? -1 : 0;
}

static const char *lookup(const text_entity *t, int count, const uint32_t *s, size_t n) {
    int lo = 0, hi = count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = cmp_key(s, n, t[mid].name);
        if (c == 0) return t[mid].value;
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return NULL;
}

static int invalid_charref(uint32_t num, uint32_t *cp) {
    for (int i = 0; i < text_html_invalid_charrefs_n; i++)
        if (text_html_invalid_charrefs[i].num == num) { *cp = text_html_invalid_charrefs[i].cp; return 1; }
    return 0;
}

/* ---------------------------------------------------------------- html.unescape */
/* One numeric reference, as Python's html._replace_charref does it. */
static int emit_charref(u32vec *dst, uint32_t num) {
    uint32_t cp;
    if (invalid_charref(num, &cp)) return push(dst, cp);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return push(dst, 0xFFFD);
    if (in_ranges(text_html_invalid_codepoints, text_html_invalid_codepoints_n, num)) return 0;
    return push(dst, num);
}

static inline int name_char(uint32_t c) {   /* [^\t\n\f <&#;] */
    return !(c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';');
}

/* Python's html.unescape: the regex &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * with its replacement rules (longest known prefix for unknown names). Decimal values beyond
 * U+10FFFF saturate (Python 3.11+ raises for over 4300 digits; we give U+FFFD). */
int text_html_unescape(const uint32_t *s, size_t n, u32vec *dst) {
    dst->n = 0;
    if (u32vec_reserve(dst, n)) return -1;
    size_t i = 0;
    while (i < n) {
        if (s[i] != '&') { if (push(dst, s[i])) return -1; i++; continue; }
        if (i + 1 < n && s[i + 1] == '#') {
            size_t j = i + 2;
            uint32_t num = 0;
            if (j < n && s[j] >= '0' && s[j] <= '9') {
                for (; j < n && s[j] >= '0' && s[j] <= '9'; j++)
                    num = num > 0x110000 ? num : num * 10 + (s[j] - '0');
            } else if (j + 1 < n && (s[j] == 'x' || s[j] == 'X') &&
                       ((s[j + 1] >= '0' && s[j + 1] <= '9') || ((s[j + 1] | 32) >= 'a' && (s[j + 1] | 32) <= 'f'))) {
                for (j++; j < n; j++) {
                    uint32_t c = s[j], d;
                    if (c >= '0' && c <= '9') d = c - '0';
                    else if ((c | 32) >= 'a' && (c | 32) <= 'f') d = (c | 32) - 'a' + 10;
                    else break;
                    num = num > 0x110000 ? num : num * 16 + d;
                }
            } else {   /* "&#" not followed by a number: no match at this '&' */
                if (push(dst, '&')) return -1;
                i++;
                continue;
            }
            if (j < n && s[j] == ';') j++;
            if (emit_charref(dst, num)) return -1;
            i = j;
            continue;
        }
        size_t j = i + 1;
        while (j < n && j - (i + 1) < 32 && name_char(s[j])) j++;
        if (j == i + 1) { if (push(dst, '&')) return -1; i++; continue; }
        if (j < n && s[j] == ';') j++;
        const uint32_t *name = s + i + 1;
        size_t len = j - (i + 1);
        const char *v = lookup(text_html5, text_html5_n, name, len);
        size_t used = len;
        if (!v) {
            for (size_t x = len - 1; x >= 2 && x < len; x--)
                if ((v = lookup(text_html5, text_html5_n, name, x))) { used = x; break; }
        }
        if (v) {
            if (push_utf8(dst, v)) return -1;
            for (size_t k = used; k < len; k++) if (push(dst, name[k])) return -1;
        } else {
            if (push(dst, '&')) return -1;
            for (size_t k = 0; k < len; k++) if (push(dst, name[k])) return -1;
        }
        i = j;
    }
    return 0;
}

/* ---------------------------------------------------------------- ftfy's fixes */
/* ftfy.fixes.unescape_html: &#?[0-9A-Za-z]{1,24}; replaced when it is a known HTML5 name with
 * ';', one of ftfy's all-caps names, or a numeric reference that html.unescape fully decodes. */
static int ftfy_unescape(const uint32_t *s, size_t n, u32vec *dst, int *changed) {
    dst->n = 0;
    if (u32vec_reserve(dst, n)) return -1;
    u32vec tmp = {0};
    size_t i = 0;
    while (i < n) {
        if (s[i] == '&') {
            size_t j = i + 1;
            int hash = j < n && s[j] == '#';
            if (hash) j++;
            size_t k = j;
            while (k < n && k - j < 25 && is_ascii_alnum(s[k])) k++;
            if (k > j && k - j <= 24 && k < n && s[k] == ';') {
                const uint32_t *name = s + i + 1;    /* without '&', with ';' */
                size_t len = k - i;
                const char *v = NULL;
                if (!hash) {
                    v = lookup(text_html5, text_html5_n, name, len);
                    if (!v) v = lookup(text_ftfy_upper, text_ftfy_upper_n, name, len);
                }
                if (v) {
                    if (push_utf8(dst, v)) goto nomem;
                    *changed = 1;
                    i = k + 1;
                    continue;
                }
                if (hash) {
                    if (text_html_unescape(s + i, k + 1 - i, &tmp)) goto nomem;
                    int semi = 0;
                    for (size_t q = 0; q < tmp.n; q++) semi |= tmp.p[q] == ';';
                    if (!semi) {
                        for (size_t q = 0; q < tmp.n; q++) if (push(dst, tmp.p[q])) goto nomem;
                        *changed = 1;
                        i = k + 1;
                        continue;
                    }
                }
                for (size_t q = i; q <= k; q++) if (push(dst, s[q])) goto nomem;
                i = k + 1;
                continue;
            }
        }
        if (push(dst, s[i])) goto nomem;
        i++;
    }
    u32vec_free(&tmp);
    return 0;
nomem:
    u32vec_free(&tmp);
    return -1;
}

/* ftfy 6's LIGATURES: Latin typographic ligatures, and the legacy digraphs (Dutch ij,
 * Afrikaans 'n (with an ASCII apostrophe), the Serbo-Croatian DZ/DŽ/LJ/NJ letters). Returns the code points written. */
static int ligature(uint32_t c, uint32_t out[3]) {
    static const struct { uint32_t c; uint32_t s[3]; } L[] = {
        {0x132, {'I', 'J'}}, {0x133, {'i', 'j'}}, {0x149, {'\'', 'n'}},
        {0x1C4, {'D', 0x17D}}, {0x1C5, {'D', 0x17E}}, {0x1C6, {'d', 0x17E}},
        {0x1C7, {'L', 'J'}}, {0x1C8, {'L', 'j'}}, {0x1C9, {'l', 'j'}},
        {0x1CA, {'N', 'J'}}, {0x1CB, {'N', 'j'}}, {0x1CC, {'n', 'j'}},
        {0x1F1, {'D', 'Z'}}, {0x1F2, {'D', 'z'}}, {0x1F3, {'d', 'z'}},
        {0xFB00, {'f', 'f'}}, {0xFB01, {'f', 'i'}}, {0xFB02, {'f', 'l'}},
        {0xFB03, {'f', 'f', 'i'}}, {0xFB04, {'f', 'f', 'l'}}, {0xFB05, {0x17F, 't'}}, {0xFB06, {'s', 't'}},
    };
    if (c < 0x132 || (c > 0x1F3 && c < 0xFB00) || c > 0xFB06) return 0;
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
        if (L[i].c == c) {
            int n = L[i].s[2] ? 3 : 2;
            memcpy(out, L[i].s, (size_t)n * sizeof *out);
            return n;
        }
    return 0;
}

static const char *width_map(uint32_t c) {
    if (c != 0x3000 && (c < 0xFF01 || c > 0xFFEF)) return NULL;
    int lo = 0, hi = text_width_map_n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (text_width_map[mid].cp == c) return text_width_map[mid].value;
        if (text_width_map[mid].cp < c) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

static int is_control(uint32_t c) {   /* ftfy's CONTROL_CHARS */
    if (c < 0x20) return c <= 0x08 || c == 0x0B || c >= 0x0E;
    return c == 0x7F || (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

/* fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks,
 * remove_terminal_escapes, remove_control_chars: each a pure per-character rewrite, so one
 * loop applies them in ftfy's order (each sees the previous one's output). */
static int ftfy_char_fixes(const uint32_t *s, size_t n, u32vec *dst, u32vec *tmp, int *changed) {
    /* 1. c1 controls, ligatures, width, quotes: code point to string maps, applied in turn. */
    tmp->n = 0;
    if (u32vec_reserve(tmp, n)) return -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c < 0x80) { if (push(tmp, c)) return -1; continue; }
        if (c <= 0x9F) { uint32_t r; if (invalid_charref(c, &r) && r != c) { c = r; *changed = 1; } }
        uint32_t buf[3];
        int m = ligature(c, buf);
        if (m) *changed = 1; else buf[m++] = c;
        for (int q = 0; q < m; q++) {
            uint32_t d = buf[q];
            const char *w = width_map(d);
            if (w) { *changed = 1; if (push_utf8(tmp, w)) return -1; continue; }
            if (d >= 0x2018 && d <= 0x201B) { d = '\''; *changed = 1; }
            else if (d >= 0x201C && d <= 0x201F) { d = '"'; *changed = 1; }
            if (push(tmp, d)) return -1;
        }
    }
    /* 2. line breaks, then terminal escapes, then control characters. */
    const uint32_t *t = tmp->p;
    size_t tn = tmp->n;
    dst->n = 0;
    if (u32vec_reserve(dst, tn)) return -1;
    u32vec lb = {0};
    if (u32vec_reserve(&lb, tn)) return -1;
    for (size_t i = 0; i < tn; i++) {
        uint32_t c = t[i];
        if (c == '\r') { *changed = 1; if (i + 1 < tn && t[i + 1] == '\n') i++; c = '\n'; }
        else if (c == 0x2028 || c == 0x2029 || c == 0x85) { *changed = 1; c = '\n'; }
        lb.p[lb.n++] = c;
    }
    size_t kept = 0;   /* remove_terminal_escapes: \033\[((?:\d|;)*)([a-zA-Z]), compacting lb */
    for (size_t i = 0; i < lb.n; i++) {
        uint32_t c = lb.p[i];
        if (c == 0x1B && i + 1 < lb.n && lb.p[i + 1] == '[') {
            size_t j = i + 2;
            while (j < lb.n && (lb.p[j] == ';' || is_nd(lb.p[j]))) j++;
            if (j < lb.n && lb.p[j] < 128 && (lb.p[j] | 32) >= 'a' && (lb.p[j] | 32) <= 'z') {
                *changed = 1;
                i = j;
                continue;
            }
        }
        lb.p[kept++] = c;
    }
    for (size_t i = 0; i < kept; i++) {   /* remove_control_chars */
        if (is_control(lb.p[i])) { *changed = 1; continue; }
        dst->p[dst->n++] = lb.p[i];
    }
    u32vec_free(&lb);
    return 0;
}

/* NFC through utf8proc (UTF8PROC_STABLE | UTF8PROC_COMPOSE, as utf8proc_NFC). Text below
 * U+0300 is already NFC (no combining marks, no decomposable-and-not-recomposed letters). */
static int nfc(const uint32_t *s, size_t n, u32vec *dst, text_scratch *sc, int *changed) {
    int simple = 1;
    for (size_t i = 0; i < n && simple; i++) simple = s[i] < 0x300;
    if (simple) return copy_into(dst, s, n);
    size_t need = n * 4 + 1;
    if (need > sc->utf8_cap) {
        char *p = realloc(sc->utf8, need);
        if (!p) return -1;
        sc->utf8 = p; sc->utf8_cap = need;
    }
    size_t bl = 0;
    for (size_t i = 0; i < n; i++)
        bl += (size_t)utf8proc_encode_char((utf8proc_int32_t)s[i], (utf8proc_uint8_t *)sc->utf8 + bl);
    const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    size_t cap = n + 16;
    for (;;) {
        if (u32vec_reserve(dst, cap)) return -1;
        utf8proc_ssize_t r = utf8proc_decompose((const utf8proc_uint8_t *)sc->utf8, (utf8proc_ssize_t)bl,
                                                (utf8proc_int32_t *)dst->p, (utf8proc_ssize_t)dst->cap, opt);
        if (r < 0) return copy_into(dst, s, n);   /* cannot happen for valid code points */
        if ((size_t)r > dst->cap) { cap = (size_t)r; continue; }
        r = utf8proc_normalize_utf32((utf8proc_int32_t *)dst->p, r, opt);
        if (r < 0) return copy_into(dst, s, n);
        dst->n = (size_t)r;
        break;
    }
    if (dst->n != n || memcmp(dst->p, s, n * sizeof *s)) *changed = 1;
    return 0;
}

/* ftfy.fix_and_explain on one segment, minus fix_encoding. */
static int fix_segment(const uint32_t *seg, size_t n, int unescape, u32vec *out, text_scratch *sc) {
    u32vec cur = {0}, nxt = {0}, tmp = {0};
    int rc = -1;
    if (copy_into(&cur, seg, n)) goto done;
    for (int pass = 0; pass < FTFY_MAX_PASSES; pass++) {
        int changed = 0;
        u32vec t;
        if (unescape) {
            if (ftfy_unescape(cur.p, cur.n, &nxt, &changed)) goto done;
            t = cur; cur = nxt; nxt = t;
        }
        if (ftfy_char_fixes(cur.p, cur.n, &nxt, &tmp, &changed)) goto done;
        t = cur; cur = nxt; nxt = t;
        if (nfc(cur.p, cur.n, &nxt, sc, &changed)) goto done;
        t = cur; cur = nxt; nxt = t;
        if (!changed) break;
    }
    if (u32vec_reserve(out, out->n + cur.n)) goto done;
    if (cur.n) memcpy(out->p + out->n, cur.p, cur.n * sizeof *cur.p);
    out->n += cur.n;
    rc = 0;
done:
    u32vec_free(&cur); u32vec_free(&nxt); u32vec_free(&tmp);
    return rc;
}

static int has_work(const uint32_t *s, size_t n) {   /* could any ftfy fix change s? */
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= 0x20 && c < 0x7F && c != '&') continue;
        if (c == '\n' || c == '\t') continue;
        return 1;
    }
    return 0;
}

void text_ftfy_fix_text(const uint32_t *s, size_t n, u32vec *dst, text_scratch *sc, int *nomem) {
    dst->n = 0;
    *nomem = 0;
    if (!has_work(s, n)) { if (copy_into(dst, s, n)) *nomem = 1; return; }
    int unescape = 1;   /* "auto": off from the first segment that holds a '<' on */
    size_t pos = 0;
    while (pos < n) {
        size_t brk = pos;
        while (brk < n && s[brk] != '\n') brk++;
        brk = brk < n ? brk + 1 : n;
        if (brk - pos > FTFY_MAX_SEGMENT) brk = pos + FTFY_MAX_SEGMENT;
        for (size_t i = pos; i < brk && unescape; i++) if (s[i] == '<') unescape = 0;
        if (fix_segment(s + pos, brk - pos, unescape, dst, sc)) { *nomem = 1; return; }
        pos = brk;
    }
}

/* ---------------------------------------------------------------- str.lower */
static int cased(uint32_t c) { return in_ranges(text_cased, text_cased_n, c); }
static int case_ignorable(uint32_t c) { return in_ranges(text_case_ignorable, text_case_ignorable_n, c); }

static int final_sigma(const uint32_t *s, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && case_ignorable(s[j - 1])) j--;
    if (j == 0 || !cased(s[j - 1])) return 0;
    j = i + 1;
    while (j < n && case_ignorable(s[j])) j++;
    return j == n || !cased(s[j]);
}

int text_lower(const uint32_t *s, size_t n, u32vec *dst) {
    dst->n = 0;
    if (u32vec_reserve(dst, n)) return -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c < 128) { if (c >= 'A' && c <= 'Z') c += 32; }
        else if (c == 0x3A3) c = final_sigma(s, n, i) ? 0x3C2 : 0x3C3;
        else if (c == 0x130) { if (push(dst, 'i')) return -1; c = 0x307; }
        else c = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
        if (push(dst, c)) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the pipeline */
static void strip(const uint32_t **p, size_t *n) {
    const uint32_t *s = *p;
    size_t a = 0, b = *n;
    while (a < b && text_py_isspace(s[a])) a++;
    while (b > a && text_py_isspace(s[b - 1])) b--;
    *p = s + a; *n = b - a;
}

int text_clean(const uint32_t *in, size_t n, text_scratch *sc) {
    int nomem;
    if (u32vec_reserve(&sc->a, 16) || u32vec_reserve(&sc->b, 16) || u32vec_reserve(&sc->c, 16)) return -1;
    /* basic_clean: ftfy.fix_text, html.unescape(html.unescape(.)), strip */
    text_ftfy_fix_text(in, n, &sc->b, sc, &nomem);
    if (nomem) return -1;
    for (int k = 0; k < 2; k++) {
        int amp = 0;
        for (size_t i = 0; i < sc->b.n && !amp; i++) amp = sc->b.p[i] == '&';
        if (!amp) break;
        if (text_html_unescape(sc->b.p, sc->b.n, &sc->c)) return -1;
        u32vec t = sc->b; sc->b = sc->c; sc->c = t;
    }
    const uint32_t *p = sc->b.p;
    size_t m = sc->b.n;
    strip(&p, &m);
    /* whitespace_clean: \s+ -> ' ', strip */
    sc->c.n = 0;
    if (u32vec_reserve(&sc->c, m)) return -1;
    for (size_t i = 0; i < m; i++) {
        if (text_re_space(p[i])) {
            while (i + 1 < m && text_re_space(p[i + 1])) i++;
            sc->c.p[sc->c.n++] = ' ';
        } else sc->c.p[sc->c.n++] = p[i];
    }
    p = sc->c.p; m = sc->c.n;
    strip(&p, &m);
    /* .lower() */
    return text_lower(p, m, &sc->a);
}
