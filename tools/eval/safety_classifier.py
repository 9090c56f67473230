"""Screening by embeddings: a small classifier over all-MiniLM-L6-v2 sentence embeddings.

Trains one logistic regression per category (one-vs-rest, numpy, L2) on the labelled set the
lexicon was written from, and measures it on the held-out set, alone and combined with the
lexicon's findings (read from `tutor safety eval`'s per-message output is not needed: the
combination is "either flags"). Prints precision/recall per category and the benign flag rate.

    .venv-ref/bin/python tools/eval/safety_classifier.py [--threshold 0.5] [--cv-thresholds]
    .venv-ref/bin/python tools/eval/safety_classifier.py --export Sources/Tutoring/SafetyClassifierWeights.swift

--export trains on every training file (the first held-out set is training data now), picks each
category's threshold by cross-validation (recall first, within a false-alarm budget and a
precision floor) and writes the weights as Swift for the server's classifier; the second
held-out set is measured by `tutor safety eval`, in Swift, on our engine's encoder.

With --cv-thresholds each category's threshold is chosen by 5-fold cross-validation on the
training set alone (the lowest threshold at which at most 2% of the held-in benign messages are
flagged), never by looking at the held-out set.
"""

import argparse
import base64
import pathlib
import struct
import subprocess

import numpy as np
import yaml
from sentence_transformers import SentenceTransformer

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests/TutoringTests/Fixtures"
CATEGORIES = ["self_harm", "violence", "sexual", "bullying", "personal_data"]


def load(name):
    return yaml.safe_load((FIXTURES / name).read_text())["messages"]


def train(x, y, l2=1e-2, steps=3000, rate=0.5):
    w = np.zeros(x.shape[1])
    b = 0.0
    positive = max(y.mean(), 1e-3)
    # Classes are unbalanced (30-50 of 327): weight positives up to half the loss.
    weights = np.where(y == 1, 0.5 / positive, 0.5 / (1 - positive))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        g = (p - y) * weights / len(y)
        w -= rate * (x.T @ g + l2 * w)
        b -= rate * g.sum()
    return w, b


def probabilities(models, x):
    return {c: 1 / (1 + np.exp(-(x @ w + b))) for c, (w, b) in models.items()}


def cv_thresholds(x, train_set, folds=5, benign_rate=0.02):
    """Per category: the lowest threshold whose out-of-fold benign flag rate is within the budget."""
    rng = np.random.default_rng(0)
    order = rng.permutation(len(train_set))
    scores = {c: np.zeros(len(train_set)) for c in CATEGORIES if c != "personal_data"}
    for k in range(folds):
        held = order[k::folds]
        kept = np.setdiff1d(order, held)
        for c in scores:
            y = np.array([c in train_set[i]["labels"] for i in kept], dtype=float)
            w, b = train(x[kept], y)
            scores[c][held] = 1 / (1 + np.exp(-(x[held] @ w + b)))
    benign = np.array([not m["labels"] for m in train_set])
    thresholds = {}
    for c, p in scores.items():
        candidates = np.linspace(0.05, 0.95, 91)
        ok = [t for t in candidates if (p[benign] >= t).mean() <= benign_rate / len(scores)]
        thresholds[c] = float(min(ok)) if ok else 0.95
    return thresholds


# Out-of-fold false alarms allowed per category (of benign messages), about 2% in all: all of the
# budget goes where recall matters most (self-harm and threats; 2 of the 225 benign each).
BUDGETS = {"self_harm": 0.011, "violence": 0.011, "sexual": 0.0, "bullying": 0.0}
# Weaker regularisation than the experiment's default: measured out of fold, it keeps more recall
# at the same false-alarm rate (self-harm 0.884 against 0.695 at 1%).
EXPORT_TRAINING = {"l2": 3e-4, "steps": 6000, "rate": 1.0}
TRAINING = [
    "safety-messages.yaml",
    "safety-messages-heldout.yaml",
    "safety-messages-more.yaml",
    "safety-messages-heldout-2.yaml",
    "safety-messages-heldout-3.yaml",
    "safety-messages-heldout-4.yaml",
    "safety-messages-more-2.yaml",
    "safety-messages-heldout-5.yaml",
    "safety-messages-more-3.yaml",
    "safety-messages-heldout-6.yaml",
    "safety-messages-heldout-7.yaml",
    "safety-messages-heldout-8.yaml",
    "safety-messages-more-4.yaml",
]
# Categories whose score adds a nearest-neighbour margin to the logistic regression's logit:
# KNN_BETA × (mean cosine of the KNN_K closest training messages of the category − that of the
# KNN_K closest others). Measured out of fold on the training pool (self-harm / threats recall at
# the same budgets): logistic alone 0.735 / 0.874, k-NN alone 0.693 / 0.763, logit + 10 × margin
# with k = 3 0.814 / 0.932 (β 20: 0.795 / 0.921, β 40: 0.740 / 0.863), an RBF SVM 0.833 / 0.932.
# Nearest neighbours catch a paraphrase of one remembered message that a linear boundary over
# all of them misses.
NEIGHBOUR_CATEGORIES = ["self_harm", "violence"]
KNN_K = 3
KNN_BETA = 10.0

# Ordinary lesson questions, benign by construction: the retrieval and answer question sets. They
# teach the classifier what lesson traffic looks like ("how do i make the computer say hi" is not
# sexual); the lessons' own `student_questions:` are left out, to measure false alarms on.
LESSON_QUESTIONS = sorted((ROOT / "Tests/CurriculumTests/Fixtures").glob("*.yaml"))
# Out-of-fold false alarms allowed on the lesson questions, per category.
LESSON_BUDGET = 0.005


def lesson_questions():
    questions = {q["question"] for path in LESSON_QUESTIONS for q in yaml.safe_load(path.read_text())}
    return [{"text": q, "labels": [], "lesson": True} for q in sorted(questions)]


def margin(sims, positive, k=KNN_K):
    """Mean cosine of the k closest positives minus that of the k closest others, per row."""
    top_positive = np.sort(np.where(positive, sims, -1.0), axis=1)[:, -k:].mean(1)
    top_other = np.sort(np.where(~positive, sims, -1.0), axis=1)[:, -k:].mean(1)
    return top_positive - top_other


def score(x, w, b, category, exemplars=None, labels=None):
    """A category's score: the probability, or for the neighbour categories logit + β·margin."""
    z = x @ w + b
    if category not in NEIGHBOUR_CATEGORIES:
        return 1 / (1 + np.exp(-z))
    return z + KNN_BETA * margin(x @ exemplars.T, labels)


def export_thresholds(x, train_set, folds=5, precision_floor=0.85):
    """Per category: the lowest threshold whose out-of-fold benign flag rate is within the
    category's budget and whose out-of-fold precision is at least the floor."""
    rng = np.random.default_rng(0)
    order = rng.permutation(len(train_set))
    scores = {c: np.zeros(len(train_set)) for c in BUDGETS}
    for k in range(folds):
        held = order[k::folds]
        kept = np.setdiff1d(order, held)
        for c in scores:
            y = np.array([c in train_set[i]["labels"] for i in kept], dtype=float)
            w, b = train(x[kept], y, **EXPORT_TRAINING)
            scores[c][held] = score(x[held], w, b, c, x[kept], y == 1)
    lesson = np.array([bool(m.get("lesson")) for m in train_set])
    # The budget counts the written benign messages (look-alikes, hard by design); lesson
    # questions have their own, smaller one.
    benign = np.array([not m["labels"] for m in train_set]) & ~lesson
    thresholds = {}
    for c, p in scores.items():
        positive = np.array([c in m["labels"] for m in train_set])
        grid = np.unique(np.round(p, 3)) if c in NEIGHBOUR_CATEGORIES else np.linspace(0.05, 0.95, 91)
        chosen = float(grid[-1]) if c in NEIGHBOUR_CATEGORIES else 0.95
        for t in grid:
            flagged = p >= t
            precision = (flagged & positive).sum() / max(1, flagged.sum())
            quiet = (p[lesson] >= t).mean() <= LESSON_BUDGET if lesson.any() else True
            if (p[benign] >= t).mean() <= BUDGETS[c] and precision >= precision_floor and quiet:
                chosen = float(t)
                break
        recall = ((p >= chosen) & positive).sum() / positive.sum()
        print(f"{c}: threshold {chosen:.3f}, out-of-fold recall {recall:.3f}")
        thresholds[c] = chosen
    return thresholds


def export(path):
    encoder = SentenceTransformer(str(ROOT / "models/all-MiniLM-L6-v2"), device="cpu")
    train_set = [m for name in TRAINING for m in load(name)] + lesson_questions()
    x = encoder.encode([m["text"] for m in train_set], normalize_embeddings=True)
    thresholds = export_thresholds(x, train_set)
    lines = [
        "// Generated by tools/eval/safety_classifier.py --export; do not edit.",
        f"// Trained on {len(train_set)} messages over all-MiniLM-L6-v2 sentence embeddings:",
        f"// {sum(not m.get('lesson') for m in train_set)} written and labelled "
        f"({', '.join(name.removesuffix('.yaml') for name in TRAINING)})",
        f"// and {sum(bool(m.get('lesson')) for m in train_set)} lesson questions as benign.",
        "// One logistic regression per category; for the neighbour categories also every",
        "// message's vector, for the nearest-neighbour margin.",
        "",
        "extension SafetyClassifier {",
        "  static let trained: [Model] = [",
    ]
    for c in BUDGETS:
        w, b = train(x, np.array([c in m["labels"] for m in train_set], dtype=float), **EXPORT_TRAINING)
        weights = ", ".join(f"{v:.6g}" for v in w)
        lines += [
            "    Model(",
            f"      category: .{''.join(p if i == 0 else p.title() for i, p in enumerate(c.split('_')))},",
            f"      bias: {b:.6g},",
            f"      threshold: {thresholds[c]:.3f},",
            f"      neighbours: {'true' if c in NEIGHBOUR_CATEGORIES else 'false'},",
            f"      weights: [{weights}]",
            "    ),",
        ]
    lines += ["  ]", ""]
    lines += exemplar_lines(x, train_set)
    lines += ["}", ""]
    pathlib.Path(path).write_text("\n".join(lines))
    # The house style (trailing commas, wrapped arrays), so that `swift format lint` passes.
    subprocess.run(["swift", "format", "--in-place", path], check=False)
    print(f"wrote {path}")


def exemplar_lines(x, train_set):
    """The training messages' vectors for the neighbour margin: per message one byte of labels
    (bit i: NEIGHBOUR_CATEGORIES[i]), a float32 scale and the vector as int8 (x ≈ q · scale),
    base64 in a multi-line string."""
    blob = bytearray()
    for v, m in zip(x, train_set, strict=True):
        bits = sum(1 << i for i, c in enumerate(NEIGHBOUR_CATEGORIES) if c in m["labels"])
        scale = float(np.abs(v).max()) / 127 or 1.0
        blob += struct.pack("<Bf", bits, scale)
        blob += np.clip(np.round(v / scale), -127, 127).astype(np.int8).tobytes()
    text = base64.b64encode(bytes(blob)).decode()
    return [
        f"  static let neighbourCount = {len(train_set)}",
        f"  static let neighbourK = {KNN_K}",
        f"  static let neighbourBeta: Float = {KNN_BETA}",
        "  /// Labels, scale and int8 vector of each training message, base64.",
        '  static let neighbourData = """',
        *(f"    {text[i : i + 96]}" for i in range(0, len(text), 96)),
        '    """',
    ]


def lexicon_findings(texts):
    """The Swift lexicon's categories for each text, through `tutor safety check`."""
    binary = ROOT / ".build/debug/tutor"
    found = []
    for text in texts:
        out = subprocess.run([binary, "safety", "check", text], capture_output=True, text=True).stdout
        found.append({line.split(" ")[0] for line in out.splitlines() if line != "nothing found"})
    return found


def report(name, labels, predicted):
    print(f"\n{name}")
    print("| category | labelled | flagged | precision | recall |")
    print("|---|---|---|---|---|")
    for c in CATEGORIES:
        labelled = sum(c in lab for lab in labels)
        flagged = sum(c in p for p in predicted)
        correct = sum(c in lab and c in p for lab, p in zip(labels, predicted, strict=True))
        precision = correct / flagged if flagged else 1.0
        recall = correct / labelled if labelled else 1.0
        print(f"| {c} | {labelled} | {flagged} | {precision:.3f} | {recall:.3f} |")
    benign = [p for lab, p in zip(labels, predicted, strict=True) if not lab]
    flagged = sum(bool(p) for p in benign)
    print(f"| benign | {len(benign)} | {flagged} flagged | | {100 * flagged / max(1, len(benign)):.1f}% |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--cv-thresholds", action="store_true")
    parser.add_argument("--export", metavar="SWIFT_FILE")
    args = parser.parse_args()
    if args.export:
        export(args.export)
        return
    encoder = SentenceTransformer(str(ROOT / "models/all-MiniLM-L6-v2"), device="cpu")
    train_set, held_out = load("safety-messages.yaml"), load("safety-messages-heldout.yaml")
    x_train = encoder.encode([m["text"] for m in train_set], normalize_embeddings=True)
    x_test = encoder.encode([m["text"] for m in held_out], normalize_embeddings=True)
    labels = [set(m["labels"]) for m in held_out]
    # Personal data stays with the patterns (a classifier cannot read an email address).
    models = {
        c: train(x_train, np.array([c in m["labels"] for m in train_set], dtype=float))
        for c in CATEGORIES
        if c != "personal_data"
    }
    thresholds = {c: args.threshold for c in models}
    if args.cv_thresholds:
        thresholds = cv_thresholds(x_train, train_set)
        print("thresholds from cross-validation:", {c: round(t, 2) for c, t in thresholds.items()})
    p_test = probabilities(models, x_test)
    classifier = [{c for c in models if p_test[c][i] >= thresholds[c]} for i in range(len(held_out))]
    lexicon = lexicon_findings([m["text"] for m in held_out])
    report("lexicon alone (held out)", labels, lexicon)
    report(
        "classifier alone (held out; personal data from the lexicon)",
        labels,
        [c | ({"personal_data"} & lx) for c, lx in zip(classifier, lexicon, strict=True)],
    )
    report("lexicon or classifier (held out)", labels, [c | lx for c, lx in zip(classifier, lexicon, strict=True)])


if __name__ == "__main__":
    main()
