"""Random-weight whisper models for offline tests (public home of :mod:`lumina.models.synthetic`).

``make_model(path, arch, decoding=..., lengths=...)`` writes one;
``python -m lumina.testing ARCH PATH`` does the same from the command line.
``decoding="unsure"`` gives a model whose greedy decodes fail whisper.cpp's
log-probability threshold (so it takes its temperature fallback);
``lengths="realistic"`` one that decodes about three tokens per second of
sound (see :mod:`lumina.models.synthetic_decoding`).
"""

from lumina.models.synthetic import (DECODINGS, FTYPES, LENGTHS, SHAPES, ModelShape, main, make_model,
                                     mel_filterbank, quantize_q8_0)

__all__ = ["DECODINGS", "FTYPES", "LENGTHS", "ModelShape", "SHAPES", "make_model", "mel_filterbank",
           "quantize_q8_0"]

if __name__ == "__main__":
    raise SystemExit(main())
