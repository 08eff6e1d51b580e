"""Audio layer: decoding files, converting arrays, sources of live audio.

Everything here produces float32 mono samples at 16 kHz (:data:`SAMPLE_RATE`)
for the layers above, through one gateway (:mod:`lumina.audio.convert`).
It imports only the compiled core and audio libraries (soxr, soundfile,
sounddevice), never the recognition or streaming layers.
"""

from lumina.audio.convert import SAMPLE_RATE
from lumina.audio.files import AudioInfo, audio_info, load_audio, read_wav, write_wav
from lumina.audio.sources import AudioSource, FileSource, IterableSource, MicrophoneSource

__all__ = [
    "AudioInfo", "AudioSource", "FileSource", "IterableSource", "MicrophoneSource",
    "SAMPLE_RATE", "audio_info", "load_audio", "read_wav", "write_wav",
]
