"""benchmarks/peer_stream.py: skips cleanly without faster-whisper; its energy end-pointer."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest


def _benchmarks_runner():
    """benchmarks/__main__.py, which loads the (uninstalled) benchmarks package by its location."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "__main__.py"
    spec = importlib.util.spec_from_file_location("benchmarks_runner", path)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    return runner


_benchmarks_runner().load_package()
compare_peer = importlib.import_module("benchmarks.compare_peer")
peer_stream = importlib.import_module("benchmarks.peer_stream")


@pytest.fixture
def no_peer(monkeypatch, tmp_path):
    monkeypatch.delenv("LUMINA_PEER_PYTHON", raising=False)
    monkeypatch.setattr(peer_stream, "ROOT", tmp_path)  # no .peerenv there
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # not importable here


def test_without_faster_whisper_the_peer_says_why(no_peer):
    assert peer_stream.peer_python() is None
    assert peer_stream.unavailable_reason().startswith("faster-whisper is not installed")
    with pytest.raises(peer_stream.PeerUnavailable, match="faster-whisper is not installed"):
        peer_stream.run_peer(np.zeros(16000, np.float32), [(0, 8000)], "model.bin")
    with pytest.raises(peer_stream.PeerUnavailable):
        peer_stream.final_latencies([np.zeros(8000, np.float32)], "model.bin")


def test_compare_peer_prints_the_reason_and_exits_0(no_peer, capsys):
    assert compare_peer.main([]) == 0
    assert capsys.readouterr().out.startswith("faster-whisper peer skipped: faster-whisper is not installed")


def test_energy_end_starts_at_speech_and_ends_after_the_hangover():
    sr, chunk = peer_stream.SR, peer_stream.CHUNK
    t = np.arange(sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    audio = np.concatenate([np.zeros(sr, np.float32), tone, np.zeros(sr, np.float32)])
    vad = peer_stream.EnergyEnd(hangover_ms=300)
    events = [(i, e) for i in range(0, len(audio), chunk) if (e := vad.push(audio[i:i + chunk]))]
    # 300 ms of quiet chunks after the tone's last one: the 15th quiet chunk ends it.
    assert events == [(sr, "start"), (2 * sr + 14 * chunk, "end")]
