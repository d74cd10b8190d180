#include "eval/prompts.h"
#include "core/error.h"
#include "io/file.h"
#include <stdlib.h>
#include <string.h>

/* The lists are linked into the library so the tool works from any directory. */
#define EMBED(sym, path) \
    __asm__(".section .rodata\n.global " #sym "\n.balign 16\n" #sym ":\n.incbin \"" path "\"\n.byte 0\n.global " #sym \
            "_end\n" #sym "_end:\n.previous\n"); \
    extern const char sym[], sym##_end[];
EMBED(prompts_simple_templates, "data/prompts/simple_templates.txt")
EMBED(prompts_imagenet_templates, "data/prompts/imagenet_templates.txt")
EMBED(prompts_cifar_templates, "data/prompts/cifar_templates.txt")
EMBED(prompts_emoji_templates, "data/prompts/emoji_templates.txt")
EMBED(prompts_imagenet_classes, "data/prompts/imagenet_classes.txt")
EMBED(prompts_cifar10_classes, "data/prompts/cifar10_classes.txt")

void str_list_free(str_list *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    l->s = NULL; l->n = 0;
}

static int push(str_list *l, const char *s, size_t n, clip_error *err) {
    char **v = realloc(l->s, (l->n + 1) * sizeof *v);
    if (!v) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    l->s = v;
    if (!(v[l->n] = strndup(s, n))) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    l->n++;
    return 0;
}

static int split_lines(const char *buf, size_t len, str_list *out, clip_error *err) {
    memset(out, 0, sizeof *out);
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        const char *le = nl ? nl : end;
        size_t n = le - p;
        if (n && p[n - 1] == '\r') n--;
        if (n && memchr(p, 0, n)) { str_list_free(out); return clip_fail(err, CLIP_ERR_FORMAT, "a line holds a NUL byte"); }
        int blank = 1;
        for (size_t i = 0; i < n; i++) if (p[i] != ' ' && p[i] != '\t') blank = 0;
        if (!blank && push(out, p, n, err)) { str_list_free(out); return err ? err->status : CLIP_ERR_NOMEM; }
        p = le + 1;
    }
    return 0;
}

int prompts_builtin_templates(const char *name, str_list *out, clip_error *err) {
    const char *b = NULL, *e = NULL;
    if (!strcmp(name, "simple")) { b = prompts_simple_templates; e = prompts_simple_templates_end; }
    else if (!strcmp(name, "imagenet")) { b = prompts_imagenet_templates; e = prompts_imagenet_templates_end; }
    else if (!strcmp(name, "cifar")) { b = prompts_cifar_templates; e = prompts_cifar_templates_end; }
    else if (!strcmp(name, "emoji")) { b = prompts_emoji_templates; e = prompts_emoji_templates_end; }
    else return clip_fail(err, CLIP_ERR_INVALID, "unknown template set '%s' (built in: simple, imagenet, cifar, emoji)", name);
    return split_lines(b, (size_t)(e - b) - 1, out, err);
}

int prompts_builtin_labels(const char *name, str_list *out, clip_error *err) {
    const char *b = NULL, *e = NULL;
    if (!strcmp(name, "imagenet")) { b = prompts_imagenet_classes; e = prompts_imagenet_classes_end; }
    else if (!strcmp(name, "cifar10")) { b = prompts_cifar10_classes; e = prompts_cifar10_classes_end; }
    else return clip_fail(err, CLIP_ERR_INVALID, "unknown label set 'builtin:%s' (built in: imagenet, cifar10)", name);
    return split_lines(b, (size_t)(e - b) - 1, out, err);
}

int prompts_load_lines(const char *path, str_list *out, clip_error *err) {
    char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    int rc = file_read_all(path, 64 << 20, &buf, &len, err);
    if (rc) return rc;
    rc = split_lines(buf, len, out, err);
    free(buf);
    if (rc && err) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%.200s: %.300s", path, err->msg);
        snprintf(err->msg, sizeof err->msg, "%s", m);
    }
    return rc;
}

int prompts_split_commas(const char *s, str_list *out, clip_error *err) {
    memset(out, 0, sizeof *out);
    for (;;) {
        const char *c = strchr(s, ',');
        const char *e = c ? c : s + strlen(s);
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if (t == s) { str_list_free(out); return clip_fail(err, CLIP_ERR_INVALID, "empty label in the list"); }
        if (push(out, s, t - s, err)) { str_list_free(out); return CLIP_ERR_NOMEM; }
        if (!c) return 0;
        s = c + 1;
    }
}

int prompts_check_templates(const str_list *t, const char *source, clip_error *err) {
    if (t->n == 0) return clip_fail(err, CLIP_ERR_INVALID, "%s: no templates", source);
    for (int i = 0; i < t->n; i++) {
        const char *p = strstr(t->s[i], "{}");
        if (!p) return clip_fail(err, CLIP_ERR_INVALID, "%s: template %d (\"%.100s\") has no {} for the label", source, i + 1, t->s[i]);
        if (strstr(p + 2, "{}")) return clip_fail(err, CLIP_ERR_INVALID, "%s: template %d (\"%.100s\") has more than one {}", source, i + 1, t->s[i]);
    }
    return 0;
}

char *prompts_fill(const char *tmpl, const char *label) {
    const char *p = strstr(tmpl, "{}");
    if (!p) return strdup(tmpl);
    size_t a = p - tmpl, l = strlen(label), r = strlen(p + 2);
    char *s = malloc(a + l + r + 1);
    if (!s) return NULL;
    memcpy(s, tmpl, a);
    memcpy(s + a, label, l);
    memcpy(s + a + l, p + 2, r + 1);
    return s;
}
