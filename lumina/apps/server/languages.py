"""The languages whisper knows: ISO 639-1 codes (and the few longer ones it uses) and English names.

whisper.cpp quietly falls back to language detection for a code it does not
know, so the server checks a request's ``language`` here first and answers a
typo with 400 instead of a transcript in a language nobody asked for.
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "language_code", "language_name"]

#: code -> English name, in whisper's order.
LANGUAGES = dict(item.split(":") for item in (
    "en:english zh:chinese de:german es:spanish ru:russian ko:korean fr:french ja:japanese "
    "pt:portuguese tr:turkish pl:polish ca:catalan nl:dutch ar:arabic sv:swedish it:italian "
    "id:indonesian hi:hindi fi:finnish vi:vietnamese he:hebrew uk:ukrainian el:greek ms:malay "
    "cs:czech ro:romanian da:danish hu:hungarian ta:tamil no:norwegian th:thai ur:urdu "
    "hr:croatian bg:bulgarian lt:lithuanian la:latin mi:maori ml:malayalam cy:welsh sk:slovak "
    "te:telugu fa:persian lv:latvian bn:bengali sr:serbian az:azerbaijani sl:slovenian "
    "kn:kannada et:estonian mk:macedonian br:breton eu:basque is:icelandic hy:armenian "
    "ne:nepali mn:mongolian bs:bosnian kk:kazakh sq:albanian sw:swahili gl:galician "
    "mr:marathi pa:punjabi si:sinhala km:khmer sn:shona yo:yoruba so:somali af:afrikaans "
    "oc:occitan ka:georgian be:belarusian tg:tajik sd:sindhi gu:gujarati am:amharic "
    "yi:yiddish lo:lao uz:uzbek fo:faroese ht:haitian_creole ps:pashto tk:turkmen "
    "nn:nynorsk mt:maltese sa:sanskrit lb:luxembourgish my:myanmar bo:tibetan tl:tagalog "
    "mg:malagasy as:assamese tt:tatar haw:hawaiian ln:lingala ha:hausa ba:bashkir "
    "jw:javanese su:sundanese yue:cantonese").split())
_BY_NAME = {name.replace("_", " "): code for code, name in LANGUAGES.items()}


def language_code(value: str) -> str | None:
    """The whisper code of ``value`` (a code such as ``"de"`` or a name such as ``"German"``).

    Returns None for a value whisper does not know.
    """
    v = value.strip().lower()
    if v in LANGUAGES:
        return v
    return _BY_NAME.get(v.replace("_", " "))


def language_name(code: str) -> str:
    """The English name of a code (``"en"`` -> ``"english"``); the code itself when unknown."""
    return LANGUAGES.get(code, code).replace("_", " ")
