"""Languages: the source language, ISO 639-1 codes with their ISO 639-3 counterparts.

Each task's target languages are on its class (`Task.targets`)."""
from __future__ import annotations

SOURCE_LANG = "en"

# ISO 639-1 -> ISO 639-3 (macrolanguage codes, as lang2vec's own letter-code table maps them).
ISO3 = {
    "en": "eng", "ar": "ara", "bg": "bul", "de": "deu", "el": "ell", "es": "spa", "eu": "eus",
    "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hr": "hrv", "it": "ita", "ja": "jpn",
    "ko": "kor", "ro": "ron", "ru": "rus", "sv": "swe", "sw": "swa", "th": "tha", "tr": "tur",
    "ur": "urd", "vi": "vie", "zh": "zho",
}


KNOWN_LANGS = tuple(sorted(ISO3))
