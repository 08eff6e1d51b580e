"""Audio layer: decoding files, converting arrays, sources of live audio.

Everything here produces float32 mono samples at 16 kHz (:data:`SAMPLE_RATE`)
for the layers above, through one gateway (:mod:`lumina.audio.convert`).
It imports only the compiled core and audio libraries (soxr, soundfile,
sounddevice), never the recognition or streaming layers.
"""

from lumina.audio.convert import SAMPLE_RATE
from lumina.audio.files import AudioInfo, audio_info, load_audio, read_wav, write_wav
from lumina.audio.sources import (TARGET_RATE, AudioSource, FileSource, IterableSource,
                                  MicrophoneSource)

# TARGET_RATE is the deprecated name of SAMPLE_RATE (goes in the next release).
__all__ = [
    "AudioInfo", "AudioSource", "FileSource", "IterableSource", "MicrophoneSource",
    "SAMPLE_RATE", "TARGET_RATE", "audio_info", "load_audio", "read_wav", "write_wav",
]
