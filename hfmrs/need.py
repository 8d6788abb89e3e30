"""Query understanding: what a free-text need says about task, language, size, licence and format.

"speech to text for German meeting recordings under 1B parameters" is a task (speech recognition), a
language (German) and a size limit.  :func:`understand` reads those from the text with a table of the
phrasings practitioners use, so that search can rank by them:

- **tasks** (pipeline tags) and **purposes** (:mod:`hfmrs.purpose` names) and **languages** rank: a model
  doing the job in the language comes first, but a model whose card forgot a tag is not lost;
- a **size preference** ("small", "runs on a phone", "on a CPU") ranks smaller models higher;
- explicit **constraints** become filters: a number of parameters ("under 1B", "7B"), memory ("fits a
  24 GB GPU"), a licence ("commercial use", "Apache 2.0"), a format or runtime ("GGUF", "ONNX", "MLX",
  "transformers.js").

Phrases are matched in table order and a matched span is consumed, so "text to speech" is never also read
as "speech"; the order puts the specific before the general (speech emotion before emotion, CLIP before
embeddings, captioning before image generation).  What is not understood still reaches lexical and dense
retrieval as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hfmrs.filters import Filters, size_filters

ASR, TTS = "automatic-speech-recognition", "text-to-speech"
EMBEDDING_TASKS = ("sentence-similarity", "feature-extraction")

# (phrases, pipeline tags, purpose), most specific first.  Phrases are regular expressions over the
# lower-cased text.
NEEDS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    (
        r"speech[- ]to[- ]text|\bstt\b|transcri(?:be|bing|ption|ptions)\b|speech recognition|\basr\b|dictation|"
        r"subtitles?|captions? for (?:videos?|audio)",
        (ASR,),
        "asr",
    ),
    (
        r"text[- ]to[- ]speech|\btts\b|speech synthesis|synthesi[sz]e (?:speech|voice)|voice synthesis|"
        r"read(?:ing)? (?:\w+ )?aloud|voice[- ]clon\w*|clone (?:a |my )?voice",
        (TTS,),
        "tts",
    ),
    (r"diari[sz]ation|who spoke when|separate speakers", ("voice-activity-detection", ASR), "diarization"),
    (
        r"speaker (?:verification|recognition|identification|embeddings?)|identify (?:a |the )?speaker|"
        r"by (?:their|his|her) voice",
        ("audio-classification",),
        "speaker-verification",
    ),
    (r"voice activity|\bvad\b|when someone is speaking|speech detection", ("voice-activity-detection",), "vad"),
    (
        r"emotions? (?:from|in) (?:speech|voice|audio)|speech emotion|emotion from voice|"
        r"(?:speech|voice|audio|caller)\b.{0,40}\bemotion",
        ("audio-classification",),
        "speech-emotion",
    ),
    (
        r"(?:generat\w*|compos\w*|make|create) (?:\w+ )?(?:music|songs?)\b|music generation|text[- ]to[- ]music|"
        r"\bmusic\b",
        ("text-to-audio",),
        "music",
    ),
    (r"sound effects?|text[- ]to[- ]audio|generate (?:audio|sounds?)\b", ("text-to-audio",), "audio-generation"),
    (
        r"(?:background )?noise (?:removal|reduction|suppression)|remove (?:the )?(?:background )?noise|denois\w*|"
        r"speech enhancement|source separation",
        ("audio-to-audio",),
        None,
    ),
    (
        r"audio classification|classify (?:\w+ )?sounds?|sound classification|audio tagging|audioset|sound events?|"
        r"dog barks?",
        ("audio-classification",),
        None,
    ),
    (
        r"facial (?:expressions?|emotions?)|(?:emotions?|expressions?) (?:in|from|of) (?:faces|photos|images)",
        ("image-classification",),
        "face",
    ),
    (r"\bsentiment|positive or negative|polarity|opinion mining", ("text-classification",), "sentiment"),
    (r"\bemotions?\b|go_?emotions", ("text-classification",), "emotion"),
    (r"\btoxic\w*|hate speech|offensive|profanity|content moderation|moderat\w+", ("text-classification",), "toxicity"),
    (r"prompt injection|jailbreak|guardrails?|safety classifier", ("text-classification", "text-generation"), None),
    (
        r"zero[- ]shot (?:image )?classif\w*(?= (?:of )?images?)|zero[- ]shot image|\bclip\b|\bsiglip\b|"
        r"image[- ]text (?:matching|retrieval|embeddings?)|image and text embeddings|image search",
        ("zero-shot-image-classification",),
        "clip",
    ),
    (
        r"zero[- ]shot (?:text )?classif\w*|\bnli\b|natural language inference|entailment|arbitrary "
        r"(?:labels|categories)|(?:my|your) own labels|classif\w* .{0,40}without training",
        ("zero-shot-classification",),
        "nli",
    ),
    (
        r"language (?:identification|detection|id)\b|detect (?:the |which )?language|which language",
        ("text-classification",),
        "language-id",
    ),
    (
        r"named[- ]entit\w*|\bner\b|entity (?:extraction|recognition)|extract (?:the )?(?:people|persons|names|"
        r"entities)|\bentit(?:y|ies)\b",
        ("token-classification",),
        "ner",
    ),
    (r"\bpii\b|personal (?:information|data)|anonymi[sz]\w*|redact\w*|de-?identif\w*", ("token-classification",), None),
    (r"part[- ]of[- ]speech|\bpos[- ]tagg\w*", ("token-classification",), "pos"),
    (r"keywords?|keyphrases?", ("token-classification", "text2text-generation"), None),
    (
        r"(?:scanned |)(?:documents?|invoices?|receipts?|forms?|pdfs?)\b.{0,30}question|document (?:qa|question "
        r"answering|vqa)|question answering over (?:scanned )?(?:documents?|invoices?)",
        ("document-question-answering",),
        None,
    ),
    (
        r"extractive (?:question answering|qa)|\bsquad|answer questions (?:from|about|given|in) (?:a |the )?"
        r"(?:paragraph|passage|context|text)|question answering",
        ("question-answering",),
        "extractive-qa",
    ),
    (r"summar\w+|tl;?dr", ("summarization",), "summarization"),
    (r"translat\w*|machine translation", ("translation",), "translation"),
    (r"grammar|grammatical|spell(?:ing)?[- ]correct\w*", ("text2text-generation",), None),
    (r"paraphras\w*|rewrit\w*", ("text2text-generation",), None),
    (r"rerank\w*|re-rank\w*|cross[- ]encoder|colbert|late interaction", ("text-ranking",), "reranking"),
    (
        r"image (?:and text )?embeddings?|image features|visual (?:features|similarity)|\bdino\w*|"
        r"self[- ]supervised image",
        ("image-feature-extraction",),
        "image-embeddings",
    ),
    (
        r"embeddings?|semantic search|sentence similarity|vector (?:search|database)|\bretrieval\b|\brag\b|"
        r"similarity search|sentence[- ]transformers?",
        EMBEDDING_TASKS,
        "embeddings",
    ),
    (
        r"vision[- ]language|\bvlm\b|multimodal|(?:chat|questions?) about (?:images|pictures|photos)|understands? "
        r"images|visual question|\bvqa\b",
        ("image-text-to-text",),
        "vlm",
    ),
    (
        r"\bocr\b|extract text from (?:images|scans|pdfs?|documents)|handwrit\w*|scanned|pdfs? to (?:markdown|text)|"
        r"text recognition|read text in images",
        ("image-to-text", "image-text-to-text"),
        "ocr",
    ),
    (r"caption\w*|describ\w* .{0,30}\b(?:images?|pictures?|photos?)\b|alt[- ]text", ("image-to-text",), "captioning"),
    (r"nsfw|nudity|explicit (?:content|images)", ("image-classification",), "nsfw-detection"),
    (
        r"control ?net|pose[- ]guided|condition\w* .{0,40}\b(?:edges|depth maps?|poses?)\b",
        ("text-to-image",),
        "controlnet",
    ),
    (
        r"inpaint\w*|edit (?:an? |the )?(?:image|photo)s?|image edit\w*|fill masked",
        ("image-to-image", "text-to-image"),
        "inpainting",
    ),
    (r"upscal\w*|super[- ]resolution|higher resolution", ("image-to-image",), "upscaling"),
    (
        r"background (?:removal|remover)|remove (?:the )?background|matting",
        ("image-segmentation",),
        "background-removal",
    ),
    (r"\bdepth\b", ("depth-estimation",), "depth-estimation"),
    (
        r"segment anything|\bsam\b|(?:point|box) prompts|promptable segmentation",
        ("mask-generation", "image-segmentation"),
        None,
    ),
    (r"segment\w*", ("image-segmentation",), None),
    (
        r"open[- ]vocabulary|described by (?:free )?text|grounding|zero[- ]shot (?:object )?detection",
        ("zero-shot-object-detection",),
        "open-vocabulary-detection",
    ),
    (r"object detect\w*|detect objects|\byolo\w*|bounding box\w*|detector", ("object-detection",), None),
    (r"image classif\w*|classif\w* (?:\w+ )?images?|imagenet", ("image-classification",), None),
    (
        r"text[- ]to[- ]video|video generation|generate (?:a |short )?videos?|animate (?:a |an )?(?:still )?"
        r"(?:image|photo|picture)s?|image[- ]to[- ]video",
        ("text-to-video", "image-to-video"),
        None,
    ),
    (r"\b3d\b|\bmesh\b", ("image-to-3d", "text-to-3d"), None),
    (
        r"text[- ]to[- ]image|image generation|generat\w* (?:\w+ )?(?:images?|pictures?|art|photos?)\b|"
        r"stable diffusion|diffusion model|\bsdxl\b|\bflux\b|images? from (?:a )?(?:text|prompts?)|art generat\w*|"
        r"anime style",
        ("text-to-image",),
        None,
    ),
    (r"time[- ]series|forecast\w*", ("time-series-forecasting",), None),
    (r"tabular|spreadsheets?|\bcsv\b", ("tabular-classification", "tabular-regression"), "tabular"),
    (
        r"reason\w*|thinks? step by step|chain[- ]of[- ]thought|\bo1\b|\br1\b|thinking",
        ("text-generation",),
        "reasoning",
    ),
    (r"\bcod(?:e|er|ing)\b|programming|\bpython\b|software engineering|\bide\b", ("text-generation",), "code"),
    (r"\bmath\w*|word problems?|arithmetic", ("text-generation",), "math"),
    (
        r"\bchat\w*|assistant|instruct\w*|conversation\w*|\bllms?\b|large language model|role-?play|\bagents?\b|"
        r"function calling|tool use|language model",
        ("text-generation",),
        "chat",
    ),
    (r"masked language model|fill[- ]mask|\bbert\b|bert[- ]like|\bencoder\b", ("fill-mask",), "masked-lm"),
)
_COMPILED = tuple((re.compile(pattern), tasks, purpose) for pattern, tasks, purpose in NEEDS)

LANGUAGES = {
    "english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it", "portuguese": "pt",
    "dutch": "nl", "russian": "ru", "chinese": "zh", "mandarin": "zh", "cantonese": "zh", "japanese": "ja",
    "korean": "ko", "arabic": "ar", "hindi": "hi", "turkish": "tr", "polish": "pl", "swedish": "sv",
    "vietnamese": "vi", "indonesian": "id", "persian": "fa", "farsi": "fa", "hebrew": "he", "greek": "el",
    "czech": "cs", "ukrainian": "uk", "finnish": "fi", "danish": "da", "norwegian": "no", "thai": "th",
    "bengali": "bn", "urdu": "ur", "tamil": "ta", "swahili": "sw", "romanian": "ro", "hungarian": "hu",
    "catalan": "ca", "malay": "ms", "tagalog": "tl", "bulgarian": "bg", "croatian": "hr", "serbian": "sr",
}  # fmt: skip
MULTILINGUAL = re.compile(
    r"multilingual|multi-lingual|many languages|cross-lingual|\b\d{2,3}\+? languages|"
    r"any language|low-resource languages"
)
_LANGUAGE = re.compile(r"\b(" + "|".join(LANGUAGES) + r")\b")

# Words that say "small" without a number: ranked as a preference, never filtered (a size filter drops
# every model whose size is unknown, and "small" means 100M for an encoder but 4B for a chat model).
SMALL = re.compile(
    r"\b(?:small|smaller|tiny|lightweight|light-weight|compact|fast|faster|efficient|phones?|mobile|"
    r"on-device|edge|laptop|cpus?|raspberry|browser|real[- ]time|locally|embedded)\b"
)
_UNITS = {"t": 1000.0, "b": 1.0, "bn": 1.0, "billion": 1.0, "m": 1e-3, "million": 1e-3, "k": 1e-6}
_NUMBER = r"(\d+(?:\.\d+)?)\s*(t|bn|b|billion|m|million|k)\b(?:\s*(?:param\w*|parameters))?"
AT_MOST = re.compile(r"(?:under|below|less than|smaller than|at most|up to|max(?:imum)?|<=?|≤)\s*" + _NUMBER)
ABOUT = re.compile(r"(?<![\w.-])" + _NUMBER + r"(?![\w-])")
MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*(?:gb|gib|g)\b")
SIZE_BAND = (0.5, 1.6)  # "a 7B model": 3.5B to 11.2B (7B, 8B and 9B releases are one class)

COMMERCIAL = re.compile(r"commercial(?:ly)?|permissive")
LICENSE_WORDS = {"apache": "apache-2.0", "mit": "mit", "bsd": "bsd-3-clause", "cc-by": "cc-by-4.0"}
_LICENSE = re.compile(r"\b(apache|mit|bsd|cc-by)\b(?:[- ]?(?:2\.0|license|licensed|licence))?")
FORMAT_WORDS = (
    (re.compile(r"transformers\.?js|in the browser"), "transformers.js"),
    (re.compile(r"\bgguf\b|llama\.?cpp|ollama|lm ?studio"), "gguf"),
    (re.compile(r"\bmlx\b|apple silicon|\bmy mac\b|\bon (?:a )?mac\b"), "mlx"),
    (re.compile(r"\bonnx\b"), "onnx"),
    (re.compile(r"\bawq\b"), "awq"),
    (re.compile(r"\bgptq\b"), "gptq"),
    (re.compile(r"\bexl2\b"), "exl2"),
    (re.compile(r"openvino"), "openvino"),
    (re.compile(r"core ?ml"), "coreml"),
    (re.compile(r"tflite|tensorflow lite"), "tflite"),
)
# Fields a need names that no pipeline tag or purpose says: the words that ask for a domain, and the words
# of a model's name or tags that show one (whole name parts: "med" alone would match "medium").
DOMAINS: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "medical": (
        re.compile(r"medic\w*|clinic\w*|biomedic\w*|pubmed|health\w*|radiolog\w*|patients?|\bbio\w*|\behr\b"),
        ("medical", "medicine", "clinical", "biomedical", "bio", "biomed", "pubmed", "pubmedbert", "biobert",
         "clinicalbert", "health", "healthcare", "radiology", "medgemma", "meditron", "biomistral", "openbiollm",
         "med42", "medcpt", "medembed", "medalpaca", "sapbert", "gatortron", "biogpt", "biomedlm", "scibert"),
    ),
    "legal": (
        re.compile(r"legal|\blaw\b|contracts?|court|lawyers?"),
        ("legal", "law", "legalbert", "inlegalbert", "saul", "casehold", "lexlms", "contracts", "eurlex", "echr"),
    ),
    "finance": (
        re.compile(r"financ\w*|stocks?|trading|crypto\w*|earnings"),
        ("finance", "financial", "finbert", "fintwitbert", "stocktwits", "crypto", "cryptobert", "fin"),
    ),
}  # fmt: skip
KEYS = ("tasks", "purposes", "languages", "domains", "size")  # what `ignore` may name, besides filter names


@dataclass(frozen=True)
class Understood:
    """What a need says: tasks, purposes and languages rank; ``prefer_small`` ranks; ``filters`` filter."""

    tasks: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    prefer_small: bool = False
    domains: tuple[str, ...] = ()
    filters: Mapping[str, Any] = field(default_factory=dict)  # Filters field -> value

    def as_dict(self) -> dict[str, Any]:
        """The response's ``understood``: lists and filter values, empty parts left out."""
        out: dict[str, Any] = {}
        for key in ("tasks", "purposes", "languages", "domains"):
            if values := getattr(self, key):
                out[key] = list(values)
        if self.prefer_small:
            out["size"] = "small"
        return {**out, **self.filters}

    def without(self, keys: Iterable[str]) -> Understood:
        """The same, without the parts a user removed (``tasks``, ``languages``, ``size``, a filter name)."""
        drop = set(keys)
        return Understood(
            () if "tasks" in drop else self.tasks,
            () if "tasks" in drop or "purposes" in drop else self.purposes,
            () if "languages" in drop else self.languages,
            self.prefer_small and "size" not in drop,
            () if "domains" in drop else self.domains,
            {k: v for k, v in self.filters.items() if k not in drop},
        )

    def under(self, explicit: Filters) -> Understood:
        """What still holds once explicit filters are applied: an explicit value always wins, so an inferred
        part on the same subject (a task, a size, a licence, a format, a language) is dropped."""
        given = explicit.values
        tasks, purposes, languages = self.tasks, self.purposes, self.languages
        if "pipeline_tag" in given or "purpose" in given:
            tasks, purposes = (), ()
        if "language" in given:
            languages = ()
        kept = dict(self.filters)
        if explicit.sized:  # an explicit size or memory limit replaces every inferred one
            kept = Filters(**kept).without_size().values
        if "license" in given or "commercial" in given:
            kept.pop("license", None)
            kept.pop("commercial", None)
        if "format" in given or "library" in given:
            kept.pop("format", None)
        return Understood(tasks, purposes, languages, self.prefer_small and not explicit.sized, self.domains, kept)


def _take(pattern: re.Pattern[str], text: str, taken: list[tuple[int, int]]) -> list[re.Match[str]]:
    """Matches of ``pattern`` in spans not yet taken; they are taken."""
    found = []
    for match in pattern.finditer(text):
        if any(match.start() < end and start < match.end() for start, end in taken):
            continue
        taken.append(match.span())
        found.append(match)
    return found


def _languages(text: str) -> list[str]:
    ordered = [LANGUAGES[m.group(1)] for m in _LANGUAGE.finditer(text)]
    if MULTILINGUAL.search(text):
        ordered.append("multilingual")
    return list(dict.fromkeys(ordered))


def _size_filters(text: str, taken: list[tuple[int, int]]) -> dict[str, Any]:
    memory = at_most = band = None
    if found := _take(MEMORY, text, taken):
        memory = float(found[0].group(1))
    if found := _take(AT_MOST, text, taken):
        at_most = float(found[0].group(1)) * _UNITS[found[0].group(2)]
    elif found := _take(ABOUT, text, taken):
        billions = float(found[0].group(1)) * _UNITS[found[0].group(2)]
        band = (billions * SIZE_BAND[0], billions * SIZE_BAND[1])
    return size_filters(at_most, memory, band)


def _licence_and_format(text: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    licences = list(dict.fromkeys(LICENSE_WORDS[m.group(1)] for m in _LICENSE.finditer(text)))
    if COMMERCIAL.search(text) or len(licences) > 1:
        values["commercial"] = True
    elif licences:
        values["license"] = licences[0]
    for pattern, name in FORMAT_WORDS:
        if pattern.search(text):
            values["format"] = name
            break
    return values


def understand(text: str) -> Understood:
    """What ``text`` asks for (see the module docstring)."""
    lowered = " ".join(text.lower().split())
    taken: list[tuple[int, int]] = []
    filters = {**_size_filters(lowered, taken), **_licence_and_format(lowered)}
    tasks: list[str] = []
    purposes: list[str] = []
    for pattern, pattern_tasks, purpose in _COMPILED:
        if _take(pattern, lowered, taken):
            tasks += [t for t in pattern_tasks if t not in tasks]
            if purpose is not None and purpose not in purposes:
                purposes.append(purpose)
    languages = _languages(lowered)
    purposes += _language_purposes(purposes, languages)
    Filters(**filters)  # every value the table can produce is valid; this keeps it so
    domains = tuple(name for name, (pattern, _) in DOMAINS.items() if pattern.search(lowered))
    return Understood(tuple(tasks), tuple(purposes), tuple(languages), bool(SMALL.search(lowered)), domains, filters)


def _language_purposes(purposes: list[str], languages: list[str]) -> list[str]:
    """``translation:de-en`` for "German to English translation", ``asr:de`` for German speech recognition."""
    codes = [c for c in languages if c != "multilingual"]
    out = []
    if "translation" in purposes and len(codes) >= 2:
        out.append(f"translation:{codes[0]}-{codes[1]}")
    if "asr" in purposes and codes:
        out.append(f"asr:{codes[0]}")
    return out
