"""Random-weight whisper models for offline tests (public home of :mod:`lumina.models.synthetic`).

``python -m lumina.testing ARCH PATH`` writes one from the command line.
"""

from lumina.models.synthetic import (FTYPES, SHAPES, ModelShape, main, make_model, mel_filterbank,
                                     quantize_q8_0)

__all__ = ["FTYPES", "ModelShape", "SHAPES", "make_model", "mel_filterbank", "quantize_q8_0"]

if __name__ == "__main__":
    raise SystemExit(main())
