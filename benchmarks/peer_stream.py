"""The peer users would pick: a faster-whisper streaming pipeline on the same weights as lumina.

Used by benchmarks/compare_peer.py (lumina against this pipeline) and compare_stream.py.

What it is. RealtimeSTT and WhisperLive stream with faster-whisper the same way:
a VAD of their own watches the microphone, and when it has heard
``hangover`` of silence after speech, the whole utterance (with some audio
before the onset) goes to ``WhisperModel.transcribe`` with faster-whisper's
defaults (beam size 5, temperature fallback, timestamps). :func:`run_peer`
does exactly that on audio fed in 20 ms chunks at real-time pace, with

- ``vad="energy"``: frame energy against an adaptive noise floor, 300 ms
  hang-over (lumina's Segmenter default), 300 ms pre-roll; or
- ``vad="silero"``: faster-whisper's own Silero VAD (its ONNX model), run
  window by window (512 samples) with its state carried, speech above 0.5,
  silence under 0.35, the same hang-over and pre-roll.

The model is a ``lumina.testing`` ggml file converted, weights unchanged, to
CTranslate2 by ``ggml_to_hf.py`` (``../shared/peer`` beside the project, or
``$LUMINA_PEER_DIR``). Since the synthetic vocabulary has none of GPT-2's
non-speech symbols, ``suppress_tokens`` is whisper.cpp's own list (the
converter writes it), which lumina's decoder also applies.

Where it runs. faster-whisper needs CTranslate2 (and the converter torch and
transformers), which lumina's environment does not install. When
``faster_whisper`` does not import here, the work runs in the peer's Python
(``$LUMINA_PEER_PYTHON``, else ``.peerenv/bin/python`` at the project root):
this file is started there with ``--serve`` and answers one JSON request; the
timing happens entirely inside that process. With neither, :func:`run_peer`
raises :class:`PeerUnavailable` with the reason, and compare_peer.py prints it
and exits 0: CI does not install the peer.

For compare_stream.py::

    from peer_stream import PeerUnavailable, run_peer
    try:
        peer = run_peer(audio, spans, model_path)   # spans: [(onset, end)] in samples
    except PeerUnavailable as e:
        print(f"faster-whisper peer skipped: {e}")

``peer["end"][k]`` is end of speech -> final (from the arrival of utterance
k's last sample to its transcript), measured like compare_stream measures
lumina. :func:`final_latencies` does the same for a list of utterances.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SR = 16000
CHUNK = 320               # 20 ms, like compare_stream's feeder
HANGOVER_MS = 300
PREROLL_MS = 300
MODELS = Path(os.environ.get("LUMINA_PEER_MODELS", Path(tempfile.gettempdir()) / "lumina-peer-models"))


class PeerUnavailable(RuntimeError):
    """faster-whisper (or the converter) is not installed here nor in a peer environment."""


# --------------------------------------------------------------------------- where the peer lives

def peer_dir() -> Path | None:
    """The folder holding ggml_to_hf.py."""
    for candidate in (os.environ.get("LUMINA_PEER_DIR"), ROOT.parent / "shared" / "peer",
                      ROOT.parent.parent / "shared" / "peer"):
        if candidate and (Path(candidate) / "ggml_to_hf.py").is_file():
            return Path(candidate)
    return None


def peer_python() -> str | None:
    """A Python that imports faster_whisper: this one, $LUMINA_PEER_PYTHON or .peerenv."""
    try:
        import faster_whisper  # noqa: F401
        return sys.executable
    except ImportError:
        pass
    for candidate in (os.environ.get("LUMINA_PEER_PYTHON"), ROOT / ".peerenv" / "bin" / "python"):
        if candidate and Path(candidate).is_file():
            probe = subprocess.run([str(candidate), "-c", "import faster_whisper"], capture_output=True)
            if probe.returncode == 0:
                return str(candidate)
    return None


def unavailable_reason() -> str | None:
    """Why the peer cannot run here, or None when it can."""
    if peer_python() is None:
        return ("faster-whisper is not installed (pip install faster-whisper, or point "
                "$LUMINA_PEER_PYTHON at a Python that has it; see ../shared/peer/README.md)")
    if peer_dir() is None:
        return "ggml_to_hf.py not found (set $LUMINA_PEER_DIR to the folder of ../shared/peer)"
    return None


def converted(model: str | os.PathLike[str], python: str) -> Path:
    """The CTranslate2 int8 conversion of a ggml model, made once per file version."""
    model = Path(model)
    stat = model.stat()
    key = hashlib.sha1(f"{model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    name = f"{model.stem}-{key}"
    out = MODELS / f"{name}-ct2-int8"
    if not (out / "model.bin").is_file():
        MODELS.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([python, str(peer_dir() / "ggml_to_hf.py"), "--ggml", str(model), "--out",
                               str(MODELS), "--name", name, "--quantizations", "int8"],
                              capture_output=True, text=True, env={**os.environ, "GGML_NO_BACKTRACE": "1"})
        if done.returncode != 0:  # e.g. torch or transformers missing beside faster-whisper
            raise PeerUnavailable(f"converting {model.name} for faster-whisper failed: "
                                  f"{done.stderr.strip().splitlines()[-1:]}")
    return out


# --------------------------------------------------------------------------- end of speech

class EnergyEnd:
    """Speech while a 20 ms frame is 12 dB over the running noise floor; end after the hang-over."""

    def __init__(self, hangover_ms: int) -> None:
        self.floor_db, self.hang = -60.0, hangover_ms / 1000
        self.speaking, self.quiet_s = False, 0.0

    def push(self, chunk: np.ndarray) -> str | None:
        """'start', 'end' or None for this chunk."""
        db = 10 * np.log10(float(np.mean(chunk.astype(np.float64) ** 2)) + 1e-12)
        loud = db > max(self.floor_db + 12.0, -50.0)
        if not loud:  # the floor follows quiet frames quickly, loud ones slowly
            self.floor_db += 0.1 * (db - self.floor_db) if db < self.floor_db + 12 else 0.0
        return _transition(self, loud, len(chunk) / SR)


class SileroEnd:
    """faster-whisper's Silero VAD, window by window with its state carried."""

    def __init__(self, hangover_ms: int) -> None:
        from faster_whisper.vad import get_vad_model

        self.session = get_vad_model().session
        self.h = np.zeros((1, 1, 128), np.float32)
        self.c = np.zeros((1, 1, 128), np.float32)
        self.context = np.zeros(64, np.float32)
        self.pending = np.zeros(0, np.float32)
        self.hang, self.speaking, self.quiet_s, self.loud = hangover_ms / 1000, False, 0.0, False

    def push(self, chunk: np.ndarray) -> str | None:
        self.pending = np.concatenate([self.pending, chunk])
        while len(self.pending) >= 512:
            window, self.pending = self.pending[:512], self.pending[512:]
            x = np.concatenate([self.context, window])[None, :]
            prob, self.h, self.c = self.session.run(None, {"input": x, "h": self.h, "c": self.c})
            self.context = window[-64:]
            p = float(np.ravel(prob)[0])
            self.loud = p >= 0.5 or (self.loud and p >= 0.35)
        return _transition(self, self.loud, len(chunk) / SR)


def _transition(vad, loud: bool, seconds: float) -> str | None:
    if loud:
        vad.quiet_s = 0.0
        if not vad.speaking:
            vad.speaking = True
            return "start"
        return None
    if vad.speaking:
        vad.quiet_s += seconds
        if vad.quiet_s >= vad.hang:
            vad.speaking = False
            return "end"
    return None


# --------------------------------------------------------------------------- the pipeline (peer side)

def _fw_model(ct2: Path, threads: int):
    from faster_whisper import WhisperModel

    return WhisperModel(str(ct2), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)


def _fw_options(ct2: Path, preset: str) -> dict:
    options = {"language": "en"}
    if (ct2 / "lumina_peer.json").is_file():  # a converted random-weight model: whisper.cpp's list
        info = json.loads((ct2 / "lumina_peer.json").read_text())
        options["suppress_tokens"] = list(info["cpp_suppressed_ids"])
    if preset == "greedy":  # the peer's own fast path: one greedy pass
        options.update(beam_size=1, temperature=0.0)
    return options


def _transcribe(model, options: dict, audio: np.ndarray) -> tuple[str, int]:
    segments, _ = model.transcribe(audio, **options)
    segments = list(segments)  # the generator does the work
    return "".join(s.text for s in segments), sum(len(s.tokens) for s in segments)


def stream_here(audio: np.ndarray, spans, ct2: Path, *, vad: str = "energy",
                hangover_ms: int = HANGOVER_MS, preset: str = "default", threads: int = 2) -> dict:
    """Feed ``audio`` at real-time pace; decode each utterance the VAD ends; time it against ``spans``."""
    model, options = _fw_model(ct2, threads), _fw_options(ct2, preset)
    _transcribe(model, options, np.zeros(SR, np.float32))  # first-use costs, before the clock
    detector = SileroEnd(hangover_ms) if vad == "silero" else EnergyEnd(hangover_ms)
    preroll = PREROLL_MS * SR // 1000
    finals, onset = [], None
    t0 = time.monotonic()
    for i in range(0, len(audio), CHUNK):
        delay = t0 + (i + CHUNK) / SR - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        event = detector.push(audio[i:i + CHUNK])
        if event == "start":
            onset = max(0, i - preroll)
        elif event == "end" and onset is not None:
            started = time.monotonic()
            text, tokens = _transcribe(model, options, audio[onset:i + CHUNK])
            finals.append({"at": time.monotonic(), "covers": i + CHUNK, "decode": time.monotonic() - started,
                           "tokens": tokens, "text": text, "onset": onset})
            onset = None
    end, decode, tokens = [], [], []
    for _, stop in spans:  # the first final whose audio reached the utterance's end
        final = next((f for f in finals if f["covers"] >= stop), None)
        arrival = t0 + ((stop - 1) // CHUNK + 1) * CHUNK / SR  # as compare_stream's Feeder
        end.append(final["at"] - arrival if final else float("nan"))
        decode.append(final["decode"] if final else float("nan"))
        tokens.append(final["tokens"] if final else 0)
    texts = [next((f["text"] for f in finals if f["covers"] >= stop), "") for _, stop in spans]
    return {"utterances": len(finals), "end": end, "after_vad": [e - hangover_ms / 1000 for e in end],
            "decode": decode, "tokens": tokens, "vad": vad, "preset": preset, "texts": texts}


def whole_here(clips: list[np.ndarray], ct2: Path, *, preset: str, threads: int = 2) -> list[dict]:
    """Decode each clip once: wall time and tokens."""
    model, options = _fw_model(ct2, threads), _fw_options(ct2, preset)
    out = []
    for clip in clips:
        started = time.perf_counter()
        _, tokens = _transcribe(model, options, clip)
        out.append({"s": time.perf_counter() - started, "tokens": tokens})
    return out


# --------------------------------------------------------------------------- lumina side API

def _call(request: dict, arrays: dict[str, np.ndarray]) -> object:
    """Run one request here or in the peer's Python; return its JSON answer."""
    reason = unavailable_reason()
    if reason:
        raise PeerUnavailable(reason)
    python = peer_python()
    model = Path(request["model"])  # a CTranslate2 directory is used as it is (real weights)
    ct2 = model if (model / "model.bin").is_file() else converted(model, python)
    request = {**request, "ct2": str(ct2)}
    if python == sys.executable:
        return _serve(request, arrays)
    with tempfile.TemporaryDirectory(prefix="lumina-peer-") as tmp:
        np.savez(Path(tmp) / "arrays.npz", **arrays)
        request["arrays"] = str(Path(tmp) / "arrays.npz")
        done = subprocess.run([python, __file__, "--serve"], input=json.dumps(request), text=True,
                              capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"the peer failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def _serve(request: dict, arrays: dict[str, np.ndarray]) -> object:
    ct2 = Path(request["ct2"])
    if request["what"] == "stream":
        return stream_here(arrays["audio"], request["spans"], ct2, vad=request["vad"],
                           hangover_ms=request["hangover_ms"], preset=request["preset"],
                           threads=request["threads"])
    clips = [arrays[f"clip{i}"] for i in range(len(arrays))]
    return whole_here(clips, ct2, preset=request["preset"], threads=request["threads"])


def run_peer(audio: np.ndarray, spans, model, *, vad: str = "energy", hangover_ms: int = HANGOVER_MS,
             preset: str = "default", threads: int = 2) -> dict:
    """The faster-whisper pipeline on ``audio`` (float32 16 kHz) fed at real-time pace.

    ``spans`` are the utterances' ``(onset, end)`` sample indices; ``model``
    the ggml file lumina runs. Returns ``{"end": [s], "after_vad": [s],
    "decode": [s], "tokens": [n], "utterances": n}`` per span.

    Raises
    ------
    PeerUnavailable
        faster-whisper is not installed here nor in a peer environment.
    """
    request = {"what": "stream", "model": str(model), "spans": [list(map(int, s)) for s in spans],
               "vad": vad, "hangover_ms": hangover_ms, "preset": preset, "threads": threads}
    return _call(request, {"audio": np.ascontiguousarray(audio, np.float32)})


def final_latencies(utterances: list[np.ndarray], model, *, gap_s: float = 1.5, **options) -> list[float]:
    """End of speech -> final (s) per utterance, fed at real-time pace with ``gap_s`` of silence around each."""
    gap = np.zeros(round(gap_s * SR), np.float32)
    parts, spans, pos = [gap], [], len(gap)
    for u in utterances:
        parts += [np.asarray(u, np.float32), gap]
        spans.append((pos, pos + len(u)))
        pos += len(u) + len(gap)
    return run_peer(np.concatenate(parts), spans, model, **options)["end"]


def whole_utterances(clips: list[np.ndarray], model, *, preset: str = "default", threads: int = 2) -> list[dict]:
    """faster-whisper on each clip in one call: ``[{"s": seconds, "tokens": n}]``."""
    arrays = {f"clip{i}": np.ascontiguousarray(c, np.float32) for i, c in enumerate(clips)}
    return _call({"what": "whole", "model": str(model), "preset": preset, "threads": threads}, arrays)


def _serve_stdin() -> int:
    request = json.loads(sys.stdin.read())
    with np.load(request["arrays"]) as data:
        arrays = {k: data[k] for k in data.files}
    print(json.dumps(_serve(request, arrays)))
    return 0


if __name__ == "__main__":
    if "--serve" not in sys.argv:
        raise SystemExit("this is the peer's library; run benchmarks/compare_peer.py")
    raise SystemExit(_serve_stdin())
