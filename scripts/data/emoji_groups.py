"""Grouping emoji into concepts, splitting the concepts, and caption templates.

Pure standard library: build.py uses it on emoji.json + openmoji.json, and
tests/cli/data_prepare.py checks it on a small fixture. Every function here is
deterministic (no Python hash(), no random module), so the split never depends on
the Python version or on PYTHONHASHSEED.
"""
import hashlib

# Codepoints that change only the presentation, gender, skin tone or facing direction:
# emoji that differ only by these are one concept.
VS16, ZWJ = 0xFE0F, 0x200D
SKIN_TONES = frozenset(range(0x1F3FB, 0x1F400))
GENDER_SIGNS = frozenset({0x2640, 0x2642})
FACING_RIGHT = 0x27A1
DROPPED = frozenset({VS16, ZWJ, FACING_RIGHT}) | GENDER_SIGNS | SKIN_TONES

ADULTS = frozenset({0x1F468, 0x1F469, 0x1F9D1})      # man, woman, person
CHILDREN = frozenset({0x1F466, 0x1F467, 0x1F9D2})    # boy, girl, child

# Whole (reduced) sequences that are gendered forms of one concept but have no
# shared codepoint, mapped to one key. Values are the keys of their groups.
MULTI = "MULTI"   # sequences of two or more people: families, couples, pairs
ALIASES = {
    (0x1F474,): ("OLDER",), (0x1F475,): ("OLDER",), (0x1F9D3,): ("OLDER",),
    (0x1F934,): ("ROYAL",), (0x1F478,): ("ROYAL",), (0x1FAC5,): ("ROYAL",),
    (0x1F385,): ("CLAUS",), (0x1F936,): ("CLAUS",), ("P", 0x1F384): ("CLAUS",),
    (0x1F57A,): ("DANCER",), (0x1F483,): ("DANCER",),
    (0x1F930,): ("PREGNANT",), (0x1FAC3,): ("PREGNANT",), (0x1FAC4,): ("PREGNANT",),
    (0x1F46A,): (MULTI,),                      # family
    (0x1F46B,): (MULTI, 0x1F91D), (0x1F46C,): (MULTI, 0x1F91D),
    (0x1F46D,): (MULTI, 0x1F91D),              # ... holding hands
    (0x1F48F,): (MULTI, 0x2764, 0x1F48B),      # kiss (sorted, as concept_key sorts)
    (0x1F491,): (MULTI, 0x2764),               # couple with heart
}

# Subcategories whose captions are proper nouns ("flag: Laos"): reported apart.
FLAG_SUBCATEGORIES = frozenset({"country-flag", "subdivision-flag"})

# Codepoints that make an emoji a gendered form; a concept is named after a member
# without them where there is one ("people holding hands", not "women holding hands").
GENDERED = GENDER_SIGNS | frozenset({
    0x1F468, 0x1F469, 0x1F466, 0x1F467, 0x1F474, 0x1F475, 0x1F934, 0x1F478,
    0x1F936, 0x1F57A, 0x1F483, 0x1F930, 0x1FAC3, 0x1F46B, 0x1F46C, 0x1F46D})


def codepoints(unified):
    """'1F468-200D-1F393' -> (0x1F468, 0x200D, 0x1F393)."""
    return tuple(int(c, 16) for c in unified.split("-"))


def match_key(cps):
    """Codepoints without VS16: the key that joins emoji.json, openmoji.json and
    Fluent file names, which disagree on where FE0F is written."""
    return tuple(c for c in cps if c != VS16)


def concept_key(cps):
    """The concept an emoji belongs to: its codepoints without presentation, gender,
    skin-tone and direction modifiers, with man/woman/person (and boy/girl/child)
    folded into one token; any sequence of two or more people is one MULTI key
    per the non-person symbols it carries (family, kiss, couple with heart, ...)."""
    toks = []
    if all(c in DROPPED for c in cps):   # the modifiers themselves: male sign, right arrow
        return match_key(cps)
    for c in cps:
        if c in DROPPED:
            continue
        toks.append("P" if c in ADULTS else "C" if c in CHILDREN else c)
    npeople = sum(1 for t in toks if t in ("P", "C"))
    if npeople >= 2:
        return (MULTI,) + tuple(sorted(t for t in toks if t not in ("P", "C")))
    toks = tuple(toks)
    return ALIASES.get(toks, toks)


def group_emoji(records):
    """records: dicts with 'unified', 'short_name', 'sort_order' (emoji.json base
    entries). Returns {concept_id: [records...]}, members in sort order. The concept id
    is the short name of its representative: a member without a gendered codepoint if
    there is one, then the one with the fewest codepoints, then the first in Unicode's
    order (so 'student' leads 'man student' and 'woman student')."""
    by_key = {}
    for r in records:
        by_key.setdefault(concept_key(codepoints(r["unified"])), []).append(r)
    groups = {}
    for members in by_key.values():
        members.sort(key=lambda r: r["sort_order"])
        def rank(r):
            cps = match_key(codepoints(r["unified"]))
            return (any(c in GENDERED for c in cps), len(cps), r["sort_order"])
        rep = min(members, key=rank)
        groups[rep["short_name"]] = [rep] + [m for m in members if m is not rep]
    return groups


def _rank(seed, cid):
    return hashlib.sha256(("%s:%s" % (seed, cid)).encode("utf-8")).hexdigest()


def split_concepts(concepts, seed, fractions=(0.8, 0.1, 0.1)):
    """concepts: {concept_id: (stratum, is_flag)}. Flags get split 'flag'. The rest
    are split train/val/test within each stratum (the emoji category), in the order
    of sha256(seed:concept_id): fixed across Python versions, and adding a concept
    moves no other concept between splits unless a stratum's counts change."""
    out, strata = {}, {}
    for cid, (stratum, is_flag) in concepts.items():
        if is_flag:
            out[cid] = "flag"
        else:
            strata.setdefault(stratum, []).append(cid)
    for stratum in sorted(strata):
        ids = sorted(strata[stratum], key=lambda c: (_rank(seed, c), c))
        n = len(ids)
        n_val = int(round(n * fractions[1]))
        n_test = int(round(n * fractions[2]))
        for i, cid in enumerate(ids):
            out[cid] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


# Caption templates; a template whose fields are empty for an emoji is skipped.
TEMPLATES = (
    "an emoji of {label}.",
    "{label}",
    "{label}, {tags}",
    "{label} ({subcategory})",
)
DEFAULT_TEMPLATE = 0


def caption_tags(label, tags, n=2):
    """The first n CLDR tags that are not already words of the label."""
    words = set(label.lower().replace(":", " ").replace(",", " ").split())
    return [t for t in tags if t.lower() not in words][:n]


def captions(label, tags, subcategory):
    """All caption variants of one image, template 0 first."""
    fields = {"label": label, "tags": ", ".join(caption_tags(label, tags)),
              "subcategory": subcategory.replace("-", " ")}
    out = []
    for t in TEMPLATES:
        if "{tags}" in t and not fields["tags"]:
            continue
        out.append(t.format(**fields))
    return out


def tux_caption_key(sentence):
    """'A hedgehog.' -> 'hedgehog', '“Hospital”.' -> 'hospital': a Tux Paint caption
    without end punctuation, quotes and a leading article, lower-cased, for an exact
    comparison with a lower-cased CLDR label."""
    s = sentence.strip().rstrip(".!").strip().strip("\u201c\u201d\"").strip().lower()
    for art in ("a ", "an ", "the "):
        if s.startswith(art):
            s = s[len(art):]
            break
    return s
