"""Measuring lumina's words: a real-speech corpus, non-speech signals and word error rates.

For the test suite's ``real`` tier and ``benchmarks/compare_accuracy.py``, and for
users who want to check a model on their own machine. Speech is synthesised
offline (``hibari-tts``'s neural voice and espeak-ng's formant voices) and
cached; word error rate is computed the way the field does (OpenAI's English
text normaliser, then ``jiwer``). Needs ``pip install 'lumina[eval]'`` and
Debian's ``espeak-ng`` for the espeak voices.
"""

from lumina.evaluation.corpus import Clip, Recording, clips, recording
from lumina.evaluation.sentences import HELD_OUT, KINDS, SENTENCES, SHORT_ANSWERS
from lumina.evaluation.signals import NON_SPEECH, non_speech, mix_at_snr
from lumina.evaluation.speech import ESPEAK_VOICES, HIBARI_VOICES, SpeechRenderer, Voice
from lumina.evaluation.wer import WordErrors, normalise, word_errors
from lumina.evaluation.words import TimedWord, WordRecording, timing_errors, word_recording, words_of

__all__ = ["Clip", "ESPEAK_VOICES", "HELD_OUT", "HIBARI_VOICES", "KINDS", "NON_SPEECH", "SENTENCES",
           "Recording", "SHORT_ANSWERS", "SpeechRenderer", "TimedWord", "Voice", "WordRecording", "WordErrors", "clips", "mix_at_snr",
           "non_speech", "normalise", "recording", "timing_errors", "word_errors", "word_recording", "words_of"]
