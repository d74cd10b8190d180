"""Offline tests of the data preparation (scripts/data): concept grouping, the split,
caption templates, Tux Paint caption matching, alpha compositing, and one end-to-end
build of a tiny data set from the fixture in tests/data/data/ (45 real emoji.json
entries with their openmoji.json labels; the sprite sheets are drawn here).
Run by tests/cli/data_prepare.sh with Debian's /usr/bin/python3."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "data"))
import emoji_groups as eg  # noqa: E402

FIX = os.path.join(ROOT, "tests", "data", "data")


def load_fixture():
    with open(os.path.join(FIX, "emoji.json"), encoding="utf-8") as f:
        recs = json.load(f)
    return [r for r in recs if r["category"] != "Component"]


class Grouping(unittest.TestCase):
    def setUp(self):
        self.recs = load_fixture()
        self.groups = eg.group_emoji(self.recs)
        self.of = {m["unified"]: cid for cid, ms in self.groups.items() for m in ms}

    def same(self, *unified):
        self.assertEqual(len({self.of[u] for u in unified}), 1, unified)

    def apart(self, *unified):
        self.assertEqual(len({self.of[u] for u in unified}), len(unified), unified)

    def test_gender_variants_join(self):
        self.same("1F9D1-200D-1F393", "1F468-200D-1F393", "1F469-200D-1F393")
        self.same("1F3C3", "1F3C3-200D-2642-FE0F", "1F3C3-200D-2640-FE0F", "1F3C3-200D-27A1-FE0F")
        self.same("1F9D1", "1F468", "1F469")
        self.same("1F9D2", "1F466", "1F467")
        self.same("1F9D3", "1F474", "1F475")
        self.same("1F385", "1F936", "1F9D1-200D-1F384")
        self.same("1F9D1-200D-1F9B0", "1F468-200D-1F9B0", "1F469-200D-1F9B0")

    def test_people_sequences(self):
        self.same("1F46A", "1F468-200D-1F469-200D-1F466")                          # family
        self.same("1F491", "1F469-200D-2764-FE0F-200D-1F468")                      # couple with heart
        self.same("1F48F", "1F469-200D-2764-FE0F-200D-1F48B-200D-1F468")           # kiss
        self.same("1F46B", "1F9D1-200D-1F91D-200D-1F9D1")                          # holding hands
        self.apart("1F46A", "1F491", "1F48F", "1F46B")

    def test_distinct_concepts_stay_apart(self):
        self.apart("1F9D1", "1F9D2", "1F9D3", "1F9D1-200D-1F393")   # adult, child, older, student
        self.apart("1F408", "1F408-200D-2B1B")                       # cat, black cat
        self.apart("27A1-FE0F", "2640-FE0F", "2642-FE0F")            # the modifiers themselves
        self.apart("1F3F4-200D-2620-FE0F", "1F3F3-FE0F-200D-1F308", "1F1EC-1F1E7", "1F1F1-1F1E6")

    def test_concept_names(self):
        # Named after a gender-neutral member when there is one.
        self.assertEqual(self.of["1F469-200D-1F393"], "student")
        self.assertEqual(self.of["1F46B"], "people_holding_hands")
        self.assertEqual(self.of["1F475"], "older_adult")
        self.assertEqual(self.of["1F468-200D-1F9B0"], "red_haired_person")   # not 'man: red hair'
        self.assertEqual(self.groups["student"][0]["unified"], "1F9D1-200D-1F393")

    def test_every_record_in_one_group(self):
        n = sum(len(m) for m in self.groups.values())
        self.assertEqual(n, len(self.recs))
        self.assertEqual(len(self.of), len(self.recs))
        # 44 non-component fixture emoji form exactly these many concepts (counted by hand):
        # grinning, student, runner, family, kiss, couple_with_heart, people_holding_hands,
        # child, adult, arrow_right, female_sign, male_sign, 2 country flags, pirate flag,
        # rainbow flag, santa, cat, black_cat, heart, hedgehog, wave, hash, older_adult,
        # red_haired_person.
        self.assertEqual(len(self.groups), 25)


class Split(unittest.TestCase):
    def test_flags_and_determinism(self):
        recs = load_fixture()
        groups = eg.group_emoji(recs)
        concepts = {c: (m[0]["category"], m[0]["subcategory"] in eg.FLAG_SUBCATEGORIES)
                    for c, m in groups.items()}
        a = eg.split_concepts(concepts, "s1")
        self.assertEqual(a, eg.split_concepts(dict(reversed(list(concepts.items()))), "s1"))
        self.assertEqual(set(a), set(groups))
        flags = sorted(c for c, s in a.items() if s == "flag")
        self.assertEqual(flags, sorted([self_of(groups, "1F1EC-1F1E7"), self_of(groups, "1F1F1-1F1E6")]))
        self.assertNotEqual(a[self_of(groups, "1F3F4-200D-2620-FE0F")], "flag")   # pirate flag

    def test_proportions_and_seed(self):
        concepts = {"c%04d" % i: ("cat%d" % (i % 3), False) for i in range(1500)}
        concepts.update({"f%03d" % i: ("Flags", True) for i in range(40)})
        a = eg.split_concepts(concepts, "seed-a")
        for stratum in ("cat0", "cat1", "cat2"):
            parts = [a[c] for c, (s, _) in concepts.items() if s == stratum]
            self.assertEqual(parts.count("val"), 50)
            self.assertEqual(parts.count("test"), 50)
            self.assertEqual(parts.count("train"), 400)
        self.assertEqual(sum(1 for s in a.values() if s == "flag"), 40)
        b = eg.split_concepts(concepts, "seed-b")
        moved = sum(1 for c in concepts if a[c] != b[c])
        self.assertGreater(moved, 300)      # another seed gives another split
        # Removing one stratum does not move any concept of another.
        c = eg.split_concepts({k: v for k, v in concepts.items() if v[0] != "cat2"}, "seed-a")
        self.assertTrue(all(a[k] == c[k] for k in c))


def self_of(groups, unified):
    return next(c for c, ms in groups.items() if any(m["unified"] == unified for m in ms))


class Captions(unittest.TestCase):
    def test_templates(self):
        self.assertEqual(eg.captions("man student", ["graduate", "man", "student"], "person-role"),
                         ["an emoji of man student.", "man student", "man student, graduate",
                          "man student (person role)"])
        # No tag left after dropping the label's words: that template is skipped.
        self.assertEqual(eg.captions("flag: Laos", ["flag"], "country-flag"),
                         ["an emoji of flag: Laos.", "flag: Laos", "flag: Laos (country flag)"])

    def test_tux_key(self):
        self.assertEqual(eg.tux_caption_key("A hedgehog."), "hedgehog")
        self.assertEqual(eg.tux_caption_key("An owl."), "owl")
        self.assertEqual(eg.tux_caption_key("\u201cHospital\u201d."), "hospital")
        self.assertEqual(eg.tux_caption_key("A balloon!"), "balloon")
        self.assertEqual(eg.tux_caption_key("Another day."), "another day")


try:
    import numpy as np
    from PIL import Image
except ImportError:      # the .sh wrapper skips the whole file in that case
    np = None


@unittest.skipIf(np is None, "needs numpy and PIL")
class Build(unittest.TestCase):
    """A tiny data set built offline by build.py from the fixture."""

    @classmethod
    def setUpClass(cls):
        import build
        cls.build = build
        cls.tmp = tempfile.mkdtemp(prefix="clip-data-test.")
        raw = os.path.join(cls.tmp, "raw")
        eds = os.path.join(raw, "emoji-datasource")
        os.makedirs(os.path.join(raw, "openmoji", "data"))
        shutil.copy(os.path.join(FIX, "openmoji.json"), os.path.join(raw, "openmoji", "data"))
        os.makedirs(eds)
        shutil.copy(os.path.join(FIX, "emoji.json"), eds)
        # Sheets: each cell is opaque in its left half, with a colour from its position and
        # vendor, and transparent with garbage RGB in its right half.
        for vi, vendor in enumerate(("google", "twitter")):
            d = os.path.join(eds, "img", vendor, "sheets")
            os.makedirs(d)
            sheet = np.zeros((20 * 34, 16 * 34, 4), np.uint8)
            for y in range(20):
                for x in range(16):
                    c = sheet[y * 34 + 1:y * 34 + 33, x * 34 + 1:x * 34 + 33]
                    c[:, :16] = (x * 10, y * 10, 100 + vi * 50, 255)
                    c[:, 16:] = (200, 90, 30, 0)
                    c[0, 16] = (0, 0, 0, 128)     # one half-transparent black pixel
            Image.fromarray(sheet, "RGBA").save(os.path.join(d, "32.png"))
        cls.out = cls.tmp
        cls.run_build()

    @classmethod
    def run_build(cls, *extra):
        p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "data", "build.py"),
                            "--out", cls.out, "--styles", "google,twitter", "--jobs", "1"]
                           + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        cls.log = p.stdout.decode()
        assert p.returncode == 0, cls.log
        return cls.log

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tsv(self, name):
        with open(os.path.join(self.out, name), encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.assertTrue(lines[0].startswith("#"))
        return [l.split("\t") for l in lines[1:]]

    def test_layout(self):
        for n in ("VERSION", "SHA256SUMS", "concepts.tsv", "google.tsv", "twitter.tsv", "train.tsv",
                  "val.tsv", "test.tsv", "flag.tsv", "captions.tsv", "styles.tsv", "baseline.json"):
            self.assertTrue(os.path.exists(os.path.join(self.out, n)), n)
        self.assertFalse([n for n in os.listdir(os.path.join(self.out, "images")) if n.startswith(".")])

    def test_images_composited(self):
        rows = self.tsv("google.tsv")
        # 44 base emoji + skin variants of those with them, all in google's fixture sheet.
        self.assertEqual(sum(1 for r in rows if r[4] == "base"), 44)
        self.assertEqual(len(rows), 44 + 265)
        img = Image.open(os.path.join(self.out, rows[0][0]))
        self.assertEqual((img.mode, img.size), ("RGB", (32, 32)))
        a = np.asarray(img)
        self.assertTrue((a[:, 17:] == 255).all())            # alpha 0: white, not the garbage
        self.assertEqual(tuple(a[0, 16]), (127, 127, 127))   # (0*128 + 255*127 + 127) // 255
        self.assertEqual(a[5, 5, 2], 100)                    # google's opaque colour kept

    def test_manifests(self):
        rows = {r[0]: r for r in self.tsv("concepts.tsv")}
        self.assertEqual(rows["student"][2], "student")              # the base emoji's label
        self.assertEqual(rows["people_holding_hands"][2], "people holding hands")
        self.assertEqual(rows["student"][7].split()[0], "1f9d1-200d-1f393")
        self.assertEqual(rows["red_haired_person"][2], "person: red hair")   # not the first in order
        concepts = {c: r[1] for c, r in rows.items()}
        self.assertEqual(len(concepts), 25)
        self.assertEqual(sorted(c for c, s in concepts.items() if s == "flag"), ["flag-la", "gb"])
        seen = {}
        for part in ("train", "val", "test", "flag"):
            for path, caption, group in self.tsv(part + ".tsv"):
                self.assertEqual(concepts[group], part)           # no concept in two splits
                self.assertTrue(caption.startswith("an emoji of "), caption)
                self.assertTrue(path.startswith(("images/google/", "images/twitter/")))
                self.assertTrue(os.path.exists(os.path.join(self.out, path)))
                seen.setdefault(group, set()).add(part)
        self.assertEqual(set(seen), set(concepts))
        # Without --skins the manifests hold base emoji only: 44 per style.
        n = sum(len(self.tsv(p + ".tsv")) for p in ("train", "val", "test", "flag"))
        self.assertEqual(n, 2 * 44)
        caps = self.tsv("captions.tsv")
        self.assertIn(["images/google/1f468-200d-1f393.png", "man student (person role)", "student",
                       concepts["student"]], caps)

    def test_rerun_resumes_and_restarts(self):
        # A finished style is kept; a leftover temporary directory and a stale VERSION go.
        os.makedirs(os.path.join(self.out, "images", ".twitter.tmp"))
        log = self.run_build()
        self.assertIn("google: up to date", log)
        self.assertFalse(os.path.exists(os.path.join(self.out, "images", ".twitter.tmp")))
        self.assertTrue(os.path.exists(os.path.join(self.out, "VERSION")))
        # A changed setting that touches only the manifests leaves the images alone.
        self.run_build("--skins")
        n = sum(len(self.tsv(p + ".tsv")) for p in ("train", "val", "test", "flag"))
        self.assertEqual(n, 2 * (44 + 265))
        self.run_build()


if __name__ == "__main__":
    unittest.main(verbosity=1)
