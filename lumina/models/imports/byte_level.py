"""GPT-2's byte-level token strings, turned back into the bytes whisper.cpp's vocabulary holds.

Whisper's tokenizer is GPT-2's byte-level BPE: every byte of a token is shown
as one printable character so that vocabularies can be stored as text
(``vocabulary.txt`` of CTranslate2, ``vocab.json`` of transformers). The 188
bytes that are printable Latin-1 characters (``!``..``~``, ``¡``..``¬``,
``®``..``ÿ``) stand for themselves; the other 68 bytes, in increasing order,
are shown as the characters U+0100, U+0101, ... (so a space is ``Ġ``, U+0120).
A ggml model file stores the raw bytes, so an importer undoes this mapping.
"""

from __future__ import annotations

from lumina.errors import ModelIntegrityError

__all__ = ["token_bytes"]


def _printable_bytes() -> list[int]:
    return [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]


def _char_to_byte() -> dict[str, int]:
    printable = set(_printable_bytes())
    table = {chr(b): b for b in printable}
    shifted = (b for b in range(256) if b not in printable)
    table.update({chr(256 + i): b for i, b in enumerate(shifted)})
    return table


_CHAR_TO_BYTE = _char_to_byte()


def token_bytes(token: str) -> bytes:
    """The raw bytes of one byte-level token string (``"Ġhello"`` -> ``b" hello"``).

    Raises
    ------
    ModelIntegrityError
        The string holds a character that is not in the byte-level alphabet:
        the vocabulary is not GPT-2 byte-level BPE.
    """
    try:
        return bytes(_CHAR_TO_BYTE[c] for c in token)
    except KeyError as exc:
        raise ModelIntegrityError(
            f"vocabulary token {token!r} holds the character {exc.args[0]!r}, which is not in "
            "GPT-2's byte-level alphabet: this is not a Whisper vocabulary") from None
