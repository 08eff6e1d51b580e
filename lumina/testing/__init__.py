"""Material for your own offline tests: random-weight models, test audio, a private sound server.

``make_model(path, arch, decoding=..., lengths=...)`` writes a random-weight
whisper model of a real shape (public home of :mod:`lumina.models.synthetic`);
``python -m lumina.testing ARCH PATH`` does the same from the command line.
``decoding="unsure"`` gives a model whose greedy decodes fail whisper.cpp's
log-probability threshold (so it takes its temperature fallback);
``lengths="realistic"`` one that decodes about three tokens per second of
sound (see :mod:`lumina.models.synthetic_decoding`).

:func:`speechlike` is deterministic voiced-sounding audio (what ``lumina
bench``, the benchmarks and the tests time models on), and
:mod:`lumina.testing.pulse` runs a private PulseAudio server with a null sink,
so a test can play audio into a "microphone" on a machine without one.
"""

from lumina.models.synthetic import (DECODINGS, FTYPES, LENGTHS, SHAPES, ModelShape, main, make_model,
                                     mel_filterbank, quantize_q8_0)
from lumina.testing.signals import speechlike

__all__ = ["DECODINGS", "FTYPES", "LENGTHS", "ModelShape", "SHAPES", "make_model", "mel_filterbank",
           "quantize_q8_0", "speechlike"]
