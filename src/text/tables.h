/* Data tables for the tokenizer's text cleaning, generated from Python's standard library by
 * scripts/gen_text_tables.py into src/text/tables.c (committed; the build needs no Python). */
#ifndef CLIP_TEXT_TABLES_H
#define CLIP_TEXT_TABLES_H
#include <stdint.h>

typedef struct { const char *name; const char *value; } text_entity;   /* UTF-8 */
typedef struct { uint32_t num; uint32_t cp; } text_charref;
typedef struct { uint32_t lo, hi; } text_range;                       /* inclusive */
typedef struct { uint32_t cp; const char *value; } text_widthmap;

/* html.entities.html5: names as Python keys them ("amp", "amp;"), sorted by strcmp. */
extern const text_entity text_html5[];
extern const int text_html5_n;
/* ftfy's all-caps names ("EACUTE;"), sorted by strcmp. */
extern const text_entity text_ftfy_upper[];
extern const int text_ftfy_upper_n;
/* html.unescape's numeric special cases: replacements (sorted by num), and the code points
 * that decode to nothing. */
extern const text_charref text_html_invalid_charrefs[];
extern const int text_html_invalid_charrefs_n;
extern const text_range text_html_invalid_codepoints[];
extern const int text_html_invalid_codepoints_n;
/* ftfy's fix_character_width map, sorted by cp. */
extern const text_widthmap text_width_map[];
extern const int text_width_map_n;
/* Python's Cased and Case_Ignorable (as str.lower's final-sigma rule sees them). */
extern const text_range text_cased[];
extern const int text_cased_n;
extern const text_range text_case_ignorable[];
extern const int text_case_ignorable_n;

#endif
