"""The page of `lumina serve` in a real browser: Debian's chromium, headless, driven by Playwright.

Chromium's fake capture device plays a WAV of three known sentences (hibari-tts, 1.5 s of silence
around each) into the page's microphone. One browser and one server with the real tiny.en (and
an API key, which the page sends) serve the module; a cheap server with a stand-in model shows
the page's states. The run writes a screenshot of each state to $LUMINA_SCREENSHOTS (or a
temporary directory, printed at the end) and prints the latencies the page measured.
"""

import base64
import json
import os
import pathlib
import re
import shutil
import statistics
import time

import httpx
import jiwer
import numpy as np
import pytest
import soundfile

from lumina.apps.server import create_app
from lumina.models import ModelStore
from _server_util import GrowingEngine, UvicornThread

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KEY = "lumina-page-test-key"
PREFIX = "conversation.item.input_audio_transcription"
SENTENCES = ("The weather is nice today.", "Please send me the report by Friday.",
             "We will meet at the train station.")
WIDE, PHONE = 1000, 375
WAIT_MS = 120_000  # for the model's answers on a busy machine; nothing is timed


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    configured = os.environ.get("LUMINA_SCREENSHOTS")
    path = pathlib.Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    yield path
    print(f"\nscreenshots of the page: {path}")


@pytest.fixture(scope="module")
def sentences_wav(tmp_path_factory):
    """SENTENCES by hibari's voice, 16-bit PCM at 16 kHz: 1.5 s of silence before each sentence
    and 4 s after the last (the fake device plays the file once, then silence)."""
    import soxr
    from hibari import SAMPLE_RATE, Hibari

    tts = Hibari()
    gap = np.zeros(24000, np.float32)
    parts = []
    for sentence in SENTENCES:
        parts += [gap, soxr.resample(tts(sentence, seed=0).astype(np.float32), SAMPLE_RATE, 16000)]
    parts.append(np.zeros(64000, np.float32))
    path = tmp_path_factory.mktemp("speech") / "sentences.wav"
    soundfile.write(path, np.concatenate(parts), 16000, subtype="PCM_16")
    return path


def _descendants() -> set[int]:
    """This process's descendants (pids), from /proc."""
    parents = {}
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.fixture(scope="module")
def browser(sentences_wav):
    """One headless chromium whose microphone plays sentences_wav once from each capture's start."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("the browser tests need Debian's chromium (apt-get install chromium); leave them "
                    "out with -m 'not browser'", pytrace=False)
    from playwright.sync_api import sync_playwright

    before = _descendants()
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={sentences_wav}%noloop"])
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()
    deadline = time.monotonic() + 30
    while _descendants() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _descendants() - before, "chromium or Playwright's driver outlived the tests"


@pytest.fixture(scope="module")
def keyed_server(real_tiny_en, tmp_path_factory):
    """The real tiny.en behind an API key."""
    app = create_app(models={"tiny.en": real_tiny_en}, store=ModelStore(tmp_path_factory.mktemp("s")),
                     api_key=KEY)
    with UvicornThread(app) as server:
        yield server


def stand_in_server(micro_model, tmp_path):
    """No key, a stand-in model (text "w0 w1 ...", one word per quarter second of an utterance)
    and a partial every step: the page's states without waiting for a real model."""
    app = create_app(models={"micro": micro_model}, store=ModelStore(tmp_path), threads=1,
                     engine_factory=GrowingEngine, realtime_lockstep=True)
    return UvicornThread(app)


class Page:
    """A page in a fresh browser context; records uncaught script errors.

    The page's Content-Security-Policy forbids eval: functions given to wait_for_function must be
    function expressions (``"() => ..."``), which Playwright does not evaluate as strings."""

    def __init__(self, browser, url, *, microphone=True, width=WIDE):
        self.context = browser.new_context(permissions=["microphone"] if microphone else [],
                                           viewport={"width": width, "height": 900},
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(url + "/")
        self.page.wait_for_selector("body[data-ready]")

    def message(self) -> str:
        return self.page.inner_text("#message-text") if self.page.is_visible("#message") else ""

    def wait_message(self, start: str) -> str:
        self.page.wait_for_function(
            "start => document.getElementById('message-text').textContent.startsWith(start)", arg=start,
            timeout=WAIT_MS)
        assert self.page.is_visible("#message")
        return self.message()

    def use_key(self, key: str) -> None:
        self.page.fill("#api-key", key)
        self.page.click("#use-key")

    def finals(self) -> list[str]:
        return self.page.locator("#finals .final-text").all_inner_texts()

    def shot(self, directory: pathlib.Path, name: str) -> None:
        self.page.screenshot(path=directory / f"{name}.png", full_page=True)

    def fits(self, width: int) -> bool:
        """Nothing wider than the screen (no sideways scrolling)."""
        return self.page.evaluate("document.documentElement.scrollWidth") <= width

    def close(self) -> None:
        self.context.close()
        assert self.errors == []


def normalized(texts) -> str:
    from whisper_normalizer.english import EnglishTextNormalizer
    return EnglishTextNormalizer()(" ".join(texts))


def wer(texts) -> float:
    return jiwer.wer(normalized(SENTENCES), normalized(texts))


def stream_finals(server, wav) -> list[str]:
    """The server's realtime transcripts of the same WAV, sent by a websockets client (no browser)."""
    from websockets.sync.client import connect

    pcm, rate = soundfile.read(wav, dtype="int16")
    url = server.url.replace("http://", "ws://") + "/v1/realtime?intent=transcription"
    update = {"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
        "format": {"type": "audio/pcm", "rate": rate}, "turn_detection": {"type": "server_vad"}}}}}
    with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}, open_timeout=30) as ws:
        ws.send(json.dumps(update))
        for i in range(0, len(pcm), 640):
            ws.send(json.dumps({"type": "input_audio_buffer.append",
                                "audio": base64.b64encode(pcm[i:i + 640].tobytes()).decode()}))
        events = []
        while sum(e["type"] == f"{PREFIX}.completed" for e in events) < len(SENTENCES):
            events.append(json.loads(ws.recv(timeout=WAIT_MS / 1000)))
        # The file ends in silence: nothing is open, so a commit is refused as empty.
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        while not (events[-1]["type"] == "error"
                   and events[-1]["error"]["code"] == "input_audio_buffer_commit_empty"):
            events.append(json.loads(ws.recv(timeout=WAIT_MS / 1000)))
    started = [e for e in events if e["type"] == "input_audio_buffer.speech_started"]
    completed = [e for e in events if e["type"] == f"{PREFIX}.completed"]
    assert len(started) == len(completed) == len(SENTENCES)
    return [e["transcript"] for e in completed]


def cues(srt: str) -> list[tuple[str, str, str]]:
    """(start, end, text) of each SRT cue, times as the page's table writes them (m:ss.mmm)."""
    def short(clock):
        h, m, s = clock.replace(",", ".").split(":")
        return f"{int(m)}:{s}" if h == "00" else f"{int(h)}:{m}:{s}"
    out = []
    for block in srt.strip().split("\n\n"):
        _, times, *text = block.split("\n")
        start, end = times.split(" --> ")
        out.append((short(start), short(end), "\n".join(text)))
    return out


# --------------------------------------------------------------------------- tests

@pytest.mark.real
def test_live_dictation_shows_one_final_per_sentence(browser, keyed_server, sentences_wav,
                                                     screenshots):
    page = Page(browser, keyed_server.url)
    page.use_key(KEY)
    page.page.wait_for_selector("#connection-status:has-text('Connected: 1 model (with your API key).')")
    page.page.keyboard.press("Tab")  # from "Use this key" to the microphone button, by keyboard
    assert page.page.evaluate("document.activeElement.id") == "mic"
    assert page.page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.page.keyboard.press("Enter")
    page.page.wait_for_function("n => document.querySelectorAll('#finals li').length >= n",
                                arg=len(SENTENCES), timeout=WAIT_MS)
    page.shot(screenshots, "live-text")
    page.page.keyboard.press("Enter")
    page.page.wait_for_selector("#mic[data-state=idle]", timeout=WAIT_MS)
    finals = page.finals()
    latencies = page.page.locator("#finals li").evaluate_all(
        "items => items.map(item => Number(item.dataset.latencyMs))")
    summary = page.page.inner_text("#latency-summary")
    assert page.message() == ""
    page.close()

    stream = stream_finals(keyed_server, sentences_wav)
    print(f"\npage finals: {finals}\nstream finals: {stream}\npage WER {wer(finals):.3f}, stream WER "
          f"{wer(stream):.3f}\nlatency in the page, end of speech -> final (ms): {latencies}, "
          f"median {statistics.median(latencies):.0f}; the page says: {summary}")
    (screenshots / "live-latency.json").write_text(json.dumps(
        {"finals": finals, "latency_ms": latencies, "stream_finals": stream, "page_wer": wer(finals),
         "stream_wer": wer(stream)}, indent=2))
    assert len(finals) == len(SENTENCES)
    assert wer(finals) <= wer(stream)
    assert len(latencies) == len(SENTENCES) and all(ms > 0 for ms in latencies)
    assert re.fullmatch(r"End of speech to final text: last \d+ ms, median \d+ ms over 3 sentences\.",
                        summary)


@pytest.mark.real
def test_file_transcription_shows_segments_and_downloads_subtitles(browser, keyed_server, sentences_wav,
                                                                   screenshots):
    def server_says(fmt):
        with sentences_wav.open("rb") as f:
            response = httpx.post(keyed_server.url + "/v1/audio/transcriptions", timeout=WAIT_MS / 1000,
                                  headers={"Authorization": f"Bearer {KEY}"},
                                  files={"file": ("sentences.wav", f)}, data={"response_format": fmt})
        assert response.status_code == 200
        return response.text
    srt, vtt = server_says("srt"), server_says("vtt")
    text = " ".join(cue[2] for cue in cues(srt))

    page = Page(browser, keyed_server.url)
    page.use_key(KEY)
    page.page.set_input_files("#file-input", sentences_wav)
    for fmt in ("verbose_json", "srt"):
        page.page.select_option("#format", fmt)
        page.page.click("#transcribe")
        page.page.wait_for_selector(f"#file-result[data-format={fmt}]", timeout=WAIT_MS)
        assert page.page.inner_text("#file-text") == text
        rows = page.page.locator("#segments tbody tr").evaluate_all(
            "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))")
        assert [tuple(row) for row in rows] == cues(srt)
        downloads = {}
        for kind in ("txt", "srt", "vtt"):
            with page.page.expect_download() as info:
                page.page.click(f"#download-{kind}")
            assert info.value.suggested_filename == f"sentences.{kind}"
            downloads[kind] = pathlib.Path(info.value.path()).read_text()
        assert downloads == {"txt": text + "\n", "srt": srt, "vtt": vtt}, fmt
    assert page.page.inner_text("#file-status").startswith("Transcribed sentences.wav in ")
    page.shot(screenshots, "file-result")
    page.page.set_viewport_size({"width": PHONE, "height": 800})
    assert page.fits(PHONE)
    page.shot(screenshots, "file-result-375px")

    drop(page, "notes.txt", b"not audio")  # a file dropped on the box; the server answers 400
    assert page.page.inner_text("#file-status") == "Chosen: notes.txt (1 KB)."
    page.page.click("#transcribe")
    assert page.wait_message("The server refused the request (400). Could not decode the audio file")
    page.close()


def drop(page, name: str, content: bytes) -> None:
    """Drop a file with ``content`` on the page's drop box, as a drag from the desktop does."""
    transfer = page.page.evaluate_handle(
        """([name, data]) => {
            const transfer = new DataTransfer();
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name));
            return transfer;
        }""", [name, base64.b64encode(content).decode()])
    page.page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})


@pytest.mark.real
def test_a_missing_or_wrong_api_key_is_explained(browser, keyed_server, sentences_wav, screenshots):
    page = Page(browser, keyed_server.url)
    assert page.message() == "This server needs an API key (401): enter it under Connection."
    assert page.page.evaluate("document.activeElement.id") == "api-key"  # the field appeared, focused
    page.shot(screenshots, "error-key-needed")
    refused = "The server refused this API key (401)."
    page.use_key("not-the-key")
    page.page.wait_for_selector("#connection-status:text-is('')")
    assert page.wait_message(refused) == refused
    page.shot(screenshots, "error-wrong-key")

    page.page.click("#message-dismiss")
    page.page.set_input_files("#file-input", sentences_wav)
    page.page.click("#transcribe")
    assert page.wait_message(refused) == refused
    assert page.page.inner_text("#file-status") == "The transcription failed."

    page.page.click("#message-dismiss")
    page.page.click("#mic")  # the WebSocket is refused; the page asks the HTTP API why
    assert page.wait_message(refused) == refused
    page.page.wait_for_selector("#mic[data-state=idle][aria-pressed=false]")
    page.close()


def test_the_page_at_rest_and_while_text_comes_in(browser, micro_model, tmp_path, screenshots):
    with stand_in_server(micro_model, tmp_path) as server:
        page = Page(browser, server.url)
        assert page.page.inner_text("#connection-status") == "Connected: 1 model."
        assert page.page.is_hidden("#key-field")  # no --api-key: nothing to ask for
        labelled = page.page.evaluate("""[...document.querySelectorAll('input, select')].every(
            field => document.querySelector(`label[for="${field.id}"]`))""")
        assert labelled
        page.shot(screenshots, "initial")
        page.page.click("#mic")
        # The stand-in's text grows by a word every quarter second of speech: the open sentence
        # shows in the lighter style, after the first sentence's final.
        page.page.wait_for_function(
            "() => document.querySelectorAll('#finals li').length === 1 && "
            "/^w0 w1 w2/.test(document.getElementById('pending').textContent)", timeout=WAIT_MS)
        assert page.page.evaluate("getComputedStyle(document.getElementById('pending')).fontStyle") == "italic"
        assert re.fullmatch(r"w0( w\d+)+", page.finals()[0])
        page.shot(screenshots, "live-open-sentence")
        page.page.click("#mic")  # stop: the open sentence still gets its final
        page.page.wait_for_selector("#mic[data-state=idle]", timeout=WAIT_MS)
        assert len(page.finals()) == 2 and page.page.inner_text("#pending") == ""
        page.close()

        phone = Page(browser, server.url, width=PHONE)
        assert phone.fits(PHONE)
        phone.shot(screenshots, "initial-375px")
        phone.close()


def test_a_denied_microphone_is_explained(browser, micro_model, tmp_path, screenshots):
    with stand_in_server(micro_model, tmp_path) as server:
        page = Page(browser, server.url, microphone=False)
        page.page.click("#mic")
        assert page.wait_message("The microphone was denied") == (
            "The microphone was denied, so live dictation cannot start. Allow this page to use the "
            "microphone (the icon in the address bar, or the site settings) and press Start dictation "
            "again.")
        page.page.wait_for_selector("#mic[data-state=idle][aria-pressed=false]")
        assert page.page.inner_text("#live-status") == "Not listening."
        page.shot(screenshots, "error-microphone-denied")
        page.close()


def test_a_server_that_stops_mid_session_is_explained(browser, micro_model, tmp_path, screenshots):
    server = stand_in_server(micro_model, tmp_path)
    with server:
        host = server.url.removeprefix("http://")
        page = Page(browser, server.url)
        page.page.click("#mic")
        page.page.wait_for_selector("#mic[data-state=listening]", timeout=WAIT_MS)
        page.page.wait_for_selector("#finals li", timeout=WAIT_MS)
        before = page.finals()
    # the server is gone, in the middle of the session
    lost = page.wait_message("Lost the connection to the server (WebSocket closed, code ")
    assert lost.endswith("The text so far stays on this page; press Start dictation to try again.")
    page.page.wait_for_selector("#mic[data-state=idle][aria-pressed=false]")
    assert page.finals()[:len(before)] == before  # the text so far stays
    page.shot(screenshots, "error-connection-lost")

    page.page.set_input_files("#file-input", pathlib.Path(__file__).parent.parent / "examples" / "hello.wav")
    page.page.click("#transcribe")
    assert page.wait_message("Cannot reach") == (f"Cannot reach the server at {host}: the connection "
                                                 "failed. Is lumina serve still running?")
    page.close()
