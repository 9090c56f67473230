#!/usr/bin/env python3
"""Build the openly licensed training corpus for the bundled tutor model from Debian packages.

Two Debian packages, fetched with `apt-get download` (no root, nothing installed):

- python3.11-doc: the Python 3.11 documentation (PSF License Version 2). Its reStructuredText
  sources (`_sources/*.rst.txt`) are turned into plain paragraphs under their headings.
- wordnet-base: WordNet 3.0 (the WordNet 3.0 licence, a permissive BSD-style licence). Every
  synset's gloss becomes a definition sentence ("Rotunda means a building having a circular plan
  and a dome.").

It writes, under --out:

- `prose.jsonl`: {"source", "text"} paragraphs for plain language modelling (all tokens count).
- `curricula/`: the same text shaped as curricula (curriculum.yaml + lessons/*.md, one section
  per heading or per word), which `tutor curriculum training-data` turns into tutoring dialogues
  in exactly the server's prompt format. Because every one of these lessons is new text, the
  only way to answer well is to use the notes in the prompt: this is what teaches grounding.
- `sources.json`: package names, versions, licences, sha256 of each .deb, counts.

    tools/train/corpus.py --out .build/corpus
"""

import argparse
import glob
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import textwrap

PACKAGES = {
    "python3.11-doc": "PSF License Version 2 (https://docs.python.org/3/license.html)",
    "wordnet-base": "WordNet 3.0 license (BSD-style; https://wordnet.princeton.edu/license-and-commercial-use)",
}

# Python documentation folders whose pages are prose (the C API, What's New and distutils are not).
PYTHON_DOC_FOLDERS = ["tutorial", "howto", "faq", "reference", "library", "using", "glossary.rst.txt"]

# WordNet lexicographer files (lexnames) that carry school-subject vocabulary, with lesson titles.
WORDNET_TOPICS = {
    3: "Words for Things in General",
    4: "Words for Actions and Processes",
    5: "Words About Animals",
    6: "Words for Made Things",
    7: "Words for Properties",
    8: "Words About the Body",
    9: "Words About Thinking",
    10: "Words About Talking and Writing",
    11: "Words for Events",
    13: "Words About Food and Drink",
    14: "Words for Groups",
    15: "Words About Places",
    17: "Words About Nature",
    19: "Words About Natural Events",
    20: "Words About Plants",
    21: "Words About Owning Things",
    22: "Words for Processes",
    23: "Words About Numbers and Quantities",
    24: "Words About Relations",
    25: "Words About Shapes",
    26: "Words for States",
    27: "Words About Substances",
    28: "Words About Time",
    29: "Verbs About the Body",
    30: "Verbs About Change",
    31: "Verbs About Thinking",
    32: "Verbs About Talking",
    35: "Verbs About Making Things",
    36: "Verbs About Creating",
    38: "Verbs About Moving",
    39: "Verbs About the Senses",
    43: "Verbs About the Weather",
}


def fetch(cache):
    """Download and unpack the packages into cache/root; returns [(name, version, sha256)]."""
    os.makedirs(cache, exist_ok=True)
    found = []
    for name in PACKAGES:
        debs = glob.glob(os.path.join(cache, f"{name}_*.deb"))
        if not debs:
            subprocess.run(["apt-get", "download", name], cwd=cache, check=True)
            debs = glob.glob(os.path.join(cache, f"{name}_*.deb"))
        deb = sorted(debs)[-1]
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(cache, "root")], check=True)
        version = os.path.basename(deb).split("_")[1].replace("%3a", ":")
        digest = hashlib.sha256(open(deb, "rb").read()).hexdigest()
        found.append((name, version, digest))
    return found


# --- reStructuredText to plain paragraphs -----------------------------------------------------

HEADING_UNDERLINE = re.compile(r"^([=\-~^\"'*#+`:.])\1{2,}\s*$")
ROLE = re.compile(r":[a-zA-Z:]+:`!?~?([^`<]*?)(?:\s*<[^>]*>)?`")
LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`__?")
REF = re.compile(r"`([^`]+)`__?")
LITERAL = re.compile(r"``([^`]+)``")
EMPHASIS = re.compile(r"\*\*?([^*\s][^*]*?)\*\*?")
SUBSTITUTION = re.compile(r"\|[a-zA-Z0-9_-]+\|_?")
FOOTNOTE = re.compile(r"\s*\[#?[a-zA-Z0-9_-]*\]_")


def inline(text):
    text = ROLE.sub(r"\1", text)
    text = LINK.sub(r"\1", text)
    text = LITERAL.sub(r"\1", text)
    text = REF.sub(r"\1", text)
    text = EMPHASIS.sub(r"\1", text)
    text = SUBSTITUTION.sub("", text)
    text = FOOTNOTE.sub("", text)
    text = text.replace("\\", "")
    return " ".join(text.split())


def readable(paragraph):
    """A paragraph a reader would call a sentence or more of English prose."""
    if len(paragraph) < 60 or paragraph[-1] not in ".?!":
        return False
    letters = sum(c.isalpha() or c == " " for c in paragraph)
    return letters / len(paragraph) > 0.85 and not paragraph.startswith(("(", "[", "+", "|"))


def rst_sections(path):
    """(page title, [(heading, [paragraph])]) of one reST page; code, directives and tables go."""
    lines = open(path, encoding="utf-8").read().split("\n")
    sections, heading, paragraphs, current = [], None, [], []
    skip_indented = False
    title = None

    def flush_paragraph():
        nonlocal current
        if current:
            text = inline(" ".join(current))
            if text.endswith("::"):
                text = text[:-1]
            if readable(text):
                paragraphs.append(text)
        current = []

    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        stripped = line.strip()
        if skip_indented:
            if stripped and not line.startswith((" ", "\t")):
                skip_indented = False
            else:
                i += 1
                continue
        if (
            HEADING_UNDERLINE.match(line)
            and stripped
            and (i + 2 < len(lines))
            and HEADING_UNDERLINE.match(lines[i + 2])
        ):
            i += 1  # overline of an overlined title: the title is the next line
            continue
        if (
            stripped
            and not line.startswith(" ")
            and HEADING_UNDERLINE.match(nxt)
            and len(nxt.strip()) >= len(stripped) - 2
        ):
            flush_paragraph()
            if heading is not None and paragraphs:
                sections.append((heading, paragraphs))
            heading, paragraphs = inline(stripped), []
            if title is None:
                title = heading
            i += 2
            continue
        if stripped.startswith(".."):
            flush_paragraph()
            skip_indented = True
            i += 1
            continue
        if not stripped:
            flush_paragraph()
            i += 1
            continue
        if line.startswith((" ", "\t")) or stripped.startswith((">>>", "...", "$ ", "+-", "==")):
            flush_paragraph()
            skip_indented = not stripped.startswith(("* ", "- ", "#. "))
            if not skip_indented:
                current.append(stripped.lstrip("*-#. "))
            i += 1
            continue
        if stripped.startswith(("* ", "- ", "#. ")):
            flush_paragraph()
            stripped = stripped[2:] if not stripped.startswith("#.") else stripped[3:]
        if current and current[-1].endswith("::"):
            flush_paragraph()
        current.append(stripped)
        if stripped.endswith("::"):
            flush_paragraph()
            skip_indented = True
        i += 1
    flush_paragraph()
    if heading is not None and paragraphs:
        sections.append((heading, paragraphs))
    return title, sections


def python_docs(root):
    base = os.path.join(root, "usr/share/doc/python3.11/html/_sources")
    pages = []
    for folder in PYTHON_DOC_FOLDERS:
        path = os.path.join(base, folder)
        files = (
            [path] if path.endswith(".txt") else sorted(glob.glob(os.path.join(path, "**/*.rst.txt"), recursive=True))
        )
        for f in files:
            title, sections = rst_sections(f)
            if title and sections:
                pages.append((os.path.relpath(f, base).replace(".rst.txt", ""), title, sections))
    return pages


# --- WordNet glosses --------------------------------------------------------------------------


def wordnet(root):
    """[(lexfile, words, sentence)] for every synset with a usable gloss."""
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        for line in open(os.path.join(root, "usr/share/wordnet", f"data.{pos}"), encoding="latin-1"):
            if line.startswith("  ") or "|" not in line:
                continue
            fields, gloss = line.split("|", 1)
            parts = fields.split()
            lexfile = int(parts[1])
            count = int(parts[3], 16)
            words = [parts[4 + 2 * k].replace("_", " ") for k in range(count)]
            words = [re.sub(r"\(.*\)$", "", w) for w in words]
            words = [w for w in words if w.replace(" ", "").replace("-", "").isalpha()]
            if not words:
                continue
            pieces = [p.strip() for p in gloss.strip().split(";")]
            definition = pieces[0]
            examples = [p.strip('"') for p in pieces[1:] if p.startswith('"') and p.endswith('"')]
            if len(definition) < 12:
                continue
            word = words[0]
            sentence = f"{word[0].upper() + word[1:]} means {definition}."
            if len(words) > 1:
                sentence += f" Another word for it is {words[1]}."
            if examples:
                sentence += f' For example: "{examples[0]}".'
            out.append((lexfile, words, sentence))
    return out


# --- writing ----------------------------------------------------------------------------------


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def yaml_string(text):
    return json.dumps(text, ensure_ascii=False)


def write_curriculum(folder, cid, title, lessons):
    """lessons: [(lesson title, [(heading, text)], [key terms])]."""
    path = os.path.join(folder, cid)
    os.makedirs(os.path.join(path, "lessons"), exist_ok=True)
    ids = []
    for n, (ltitle, sections, terms) in enumerate(lessons):
        lid = f"l{n + 1}-{slug(ltitle)}"[:50].strip("-")
        ids.append(lid)
        body = [
            "---",
            f"id: {lid}",
            f"title: {yaml_string(ltitle)}",
            "objectives:",
            "  - id: understand",
            f"    text: {yaml_string('Explain ' + ltitle[0].lower() + ltitle[1:] + '.')}",
        ]
        if terms:
            body.append("key_terms: [" + ", ".join(yaml_string(t) for t in terms) + "]")
        body.append("---")
        for heading, text in sections:
            body += ["", f"## {heading}", "", textwrap.fill(text, 100)]
        open(os.path.join(path, "lessons", lid + ".md"), "w").write("\n".join(body) + "\n")
    head = [f"id: {cid}", f"title: {yaml_string(title)}", "lessons:"] + [f"  - {i}" for i in ids]
    open(os.path.join(path, "curriculum.yaml"), "w").write("\n".join(head) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", help="where the .deb files go (default OUT/debs)")
    ap.add_argument("--words-per-lesson", type=int, default=5)
    ap.add_argument("--max-words", type=int, default=30000, help="WordNet synsets to use at most")
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cache = args.cache or os.path.join(args.out, "debs")
    packages = fetch(cache)
    root = os.path.join(cache, "root")
    curricula = os.path.join(args.out, "curricula")
    shutil.rmtree(curricula, ignore_errors=True)
    os.makedirs(curricula)
    prose = open(os.path.join(args.out, "prose.jsonl"), "w")
    counts = {
        "python_pages": 0,
        "python_paragraphs": 0,
        "python_lessons": 0,
        "wordnet_synsets": 0,
        "wordnet_lessons": 0,
    }

    # Python documentation: one curriculum per page, one lesson per four sections.
    for page, title, sections in python_docs(root):
        counts["python_pages"] += 1
        for _heading, paragraphs in sections:
            for p in paragraphs:
                prose.write(json.dumps({"source": f"python3.11-doc:{page}", "text": p}) + "\n")
                counts["python_paragraphs"] += 1
        usable = [(h, " ".join(ps[:2])) for h, ps in sections if h != title and len(h) < 60]
        lessons = []
        for k in range(0, len(usable), 4):
            chunk = usable[k : k + 4]
            lessons.append((f"{title}: {chunk[0][0]}" if k else title, chunk, []))
        if lessons:
            write_curriculum(curricula, "py-" + slug(page.replace("/", "-")), f"Python: {title}", lessons)
            counts["python_lessons"] += len(lessons)

    # WordNet: lessons of a few words from one topic, each word its own section and key term.
    synsets = [s for s in wordnet(root) if s[0] in WORDNET_TOPICS]
    rng.shuffle(synsets)
    synsets = synsets[: args.max_words]
    by_topic = {}
    for lexfile, words, sentence in synsets:
        prose.write(json.dumps({"source": "wordnet-base", "text": sentence}) + "\n")
        by_topic.setdefault(lexfile, []).append((words, sentence))
    counts["wordnet_synsets"] = len(synsets)
    for lexfile, entries in sorted(by_topic.items()):
        lessons = []
        for k in range(0, len(entries), args.words_per_lesson):
            chunk = entries[k : k + args.words_per_lesson]
            sections = [(words[0][0].upper() + words[0][1:], sentence) for words, sentence in chunk]
            lessons.append(
                (f"{WORDNET_TOPICS[lexfile]} {k // args.words_per_lesson + 1}", sections, [w[0] for w, _ in chunk])
            )
        # Curricula of at most 50 lessons keep retrieval per curriculum as small as a real course.
        for part in range(0, len(lessons), 50):
            write_curriculum(
                curricula, f"words-{lexfile}-{part // 50 + 1}", WORDNET_TOPICS[lexfile], lessons[part : part + 50]
            )
            counts["wordnet_lessons"] += len(lessons[part : part + 50])
    prose.close()
    json.dump(
        {
            "packages": [{"name": n, "version": v, "sha256": d, "licence": PACKAGES[n]} for n, v, d in packages],
            "counts": counts,
        },
        open(os.path.join(args.out, "sources.json"), "w"),
        indent=2,
    )
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
