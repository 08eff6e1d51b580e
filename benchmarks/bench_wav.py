"""WAV decoding to float32 mono 16 kHz: lumina vs stdlib wave + numpy vs soundfile.

Also the bare int16 -> float32 conversion: lumina's core vs numpy.
"""

import os
import shutil
import tempfile
import wave

import numpy as np
import soundfile

import lumina
from lumina._core import pcm

from benchmarks._helpers import by_profile

DURATIONS = by_profile({"1s": 1, "60s": 60, "1h": 3600}, ci={"1s": 1, "60s": 60})
RATE = 16000


def make_wav(folder, seconds):
    """A 16 kHz mono 16-bit WAV of noise, written once per setup."""
    path = os.path.join(folder, f"{seconds}.wav")
    samples = np.random.default_rng(0).integers(-20000, 20000, seconds * RATE, dtype=np.int16)
    with wave.open(path, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(samples.tobytes())
    return path


def wave_numpy(path):
    """The stdlib baseline: wave reads the bytes, numpy converts them."""
    with wave.open(path, "rb") as file:
        raw = file.readframes(file.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / np.float32(32768)


class DecodeWav:
    params = list(DURATIONS)
    param_names = ["duration"]
    timeout = 300

    def setup(self, duration):
        self.folder = tempfile.mkdtemp(prefix="lumina-bench-")
        self.path = make_wav(self.folder, DURATIONS[duration])

    def teardown(self, duration):
        shutil.rmtree(self.folder, ignore_errors=True)

    def time_lumina_load_audio(self, duration):
        lumina.load_audio(self.path, 16000)

    def time_wave_numpy(self, duration):
        wave_numpy(self.path)

    def time_soundfile(self, duration):
        soundfile.read(self.path, dtype="float32")

    def peakmem_lumina_load_audio(self, duration):
        lumina.load_audio(self.path, 16000)

    def peakmem_soundfile(self, duration):
        soundfile.read(self.path, dtype="float32")


class ConvertInt16:
    params = by_profile([16000, 16000 * 60, 16000 * 3600], ci=[16000, 16000 * 60])
    param_names = ["samples"]

    def setup(self, samples):
        self.ints = np.random.default_rng(0).integers(-32768, 32767, samples, dtype=np.int16)
        self.out = np.empty(samples, np.float32)

    def time_lumina_core(self, samples):
        pcm.s16_to_f32(self.ints, self.out)

    def time_numpy(self, samples):
        np.multiply(self.ints, np.float32(1 / 32768), out=self.out, dtype=np.float32)
