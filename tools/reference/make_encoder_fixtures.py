#!/usr/bin/env python3
"""Builds the reference fixture that the Swift sentence encoder (Sources/Engine/BERT) is tested
against: token ids from the `tokenizers` library and embeddings from sentence-transformers, for
all-MiniLM-L6-v2 as tools/fetch-models.sh unpacks it.

Run from the repository root:

    tools/fetch-models.sh
    python3 -m venv .venv-ref && .venv-ref/bin/pip install -r tools/reference/requirements.txt
    .venv-ref/bin/python tools/reference/make_encoder_fixtures.py

It writes Tests/EngineTests/Fixtures/minilm-reference.json: for each text its ids and its
embedding (6 decimals). The texts are fixed, so running it again gives the same file.
"""

import json
import os

from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
OUT = os.path.join(ROOT, "Tests", "EngineTests", "Fixtures", "minilm-reference.json")

TEXTS = [
    # Students' questions, as they type them.
    "why are leaves green",
    "Why are leaves green?",
    "my teacher said I have to cancel it down",
    "why does my plant go all droopy",
    "split 35 quid 2 to 5",
    "even or odd check",
    "how do i make words show up on the screen",
    "what's the difference between int and float??",
    "I typed pritn and got a NameError, what does that mean",
    "is 3/4 bigger than 2/3",
    "0.1 + 0.2 != 0.3 why",
    "whats 75% as a fraction",
    "HOW DO PLANTS BREATHE",
    "can u explain photosynthesis pls",
    "y does the for loop stop at 9 not 10",
    # Lesson text.
    "Chlorophyll absorbs red and blue light and reflects green light, so leaves look green.",
    "To simplify a fraction, divide the numerator and the denominator by their highest common factor.",
    "The remainder operator % gives what is left over after integer division: 7 % 2 is 1.",
    "When a plant cell loses water its vacuole shrinks, the cell is no longer turgid and the plant wilts.",
    'print("Hello, world!") shows text on the screen.',
    "for i in range(10):\n    print(i)",
    "def area(width, height):\n\treturn width * height",
    "x = [1, 2, 3]; y = x[::-1]  # reversed",
    "6CO2 + 6H2O → C6H12O6 + 6O2",
    "Share £35 in the ratio 2:5 — that is 7 parts of £5.",
    # Accents, case and other scripts.
    "Café crème brûlée à la française",
    "naïve résumé façade coöperate",
    "Straße, Ärger, Öl, Übung",
    "ÉCOLE ÉLÉMENTAIRE",
    "Ångström and Ørsted",
    "İstanbul ve ılık",
    "ΣΊΣΥΦΟΣ and σοφία",
    "Привет, как дела?",
    "光合作用是植物利用光能的过程",
    "日本語のテキストと한국어 텍스트",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    # Symbols, punctuation, emoji, control characters and odd spacing.
    "I ❤️ science 🌱🌞",
    "¿Qué? ¡Sí! «quoted» „low“ ‘single’",
    "a—b–c…d • e · f",
    "tabs\tand\nnewlines\r\nand   many   spaces",
    "zero\u200bwidth\u200d joiner and soft\u00adhyphen",
    "control \u0001\u0002 characters \u0007 here",
    "  leading and trailing   ",
    "email me at student@example.com or call 555-0142",
    "$100 + 50% = ???",
    "C++ vs C# vs F#",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 120,
    "x",
    "",
    "?!",
    # Longer than max_seq_length (256 tokens): truncated.
    " ".join(["Plants make glucose from carbon dioxide and water using light energy."] * 30),
    " ".join(f"word{i}" for i in range(300)),
]


def main():
    model = SentenceTransformer(MODEL, device="cpu")
    tokenizer = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(model.max_seq_length)
    embeddings = model.encode(TEXTS, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    cases = []
    for text, vector in zip(TEXTS, embeddings, strict=False):
        ids = tokenizer.encode(text).ids
        # sentence-transformers tokenizes through transformers; both must agree.
        st_ids = model.tokenizer(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        assert ids == st_ids, (text, ids, st_ids)
        cases.append({"text": text, "ids": ids, "embedding": [round(float(x), 6) for x in vector]})
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(
            {"model": "all-MiniLM-L6-v2", "max_seq_length": model.max_seq_length, "cases": cases},
            f,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        f.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
