// Live dictation: microphone -> AudioWorklet (PCM16 at 16 kHz) -> /v1/realtime?intent=transcription.
//
// Server events used, all of OpenAI's realtime transcription protocol:
//   session.updated                        the session took our settings: capture starts
//   input_audio_buffer.speech_started      an utterance opened (its item_id)
//   ...input_audio_transcription.delta     text appended to the open utterance
//   input_audio_buffer.speech_stopped      the server's end of speech, audio_end_ms into the session
//   ...input_audio_transcription.completed the utterance's final text (one per utterance)
//   ...input_audio_transcription.failed    an utterance could not be transcribed
//   error                                  something the server refused
//
// The protocol sends text that has stopped changing: lumina's deltas are the part two
// consecutive hypotheses agreed on, and they only ever append. Until the utterance's
// `completed` event that text is not final (the final decode may still change words), so the
// page shows an open utterance's text in a lighter style and replaces it with the final.

import { ApiError, listModels, realtimeProtocols, realtimeUrl, unreachable } from "./api.js";

const RATE = 16000; // what the page sends; the server takes 16 or 24 kHz and needs no resampling at 16
const CHUNK = 640; // samples per input_audio_buffer.append: 40 ms
const PREFIX = "conversation.item.input_audio_transcription";
const FINISH_WAIT_MS = 30000; // how long Stop waits for the open utterance's final
const TIMELINE_KEEP = RATE * 600; // capture times kept for latencies: the last 10 minutes of audio

export class Dictation {
  /**
   * @param {object} ui  the page's elements: button, label, level, status, finals, pending,
   *                     empty (placeholder), summary, clear
   * @param {function} notify  shows an error message to the person (null clears it)
   * @param {function} model  the chosen model's name
   */
  constructor(ui, { notify, model }) {
    this.ui = ui;
    this.notify = notify;
    this.model = model;
    this.state = "idle"; // idle | starting | listening | stopping
    this.socket = null;
    this.capture = null; // { stream, context, node }
    this.items = new Map(); // item_id -> { text, audioEndMs, element }
    this.latencies = [];
    this.sent = 0; // samples sent in this session
    this.timeline = []; // [samples sent after a chunk, performance.now() when the page had it]
    this.level = 0;
    ui.button.addEventListener("click", () => {
      if (this.state === "idle") this.start();
      else if (this.state === "listening") this.stop();
      // starting, stopping: the button says so (aria-disabled) and keeps the keyboard focus
    });
    ui.clear.addEventListener("click", () => this.clear());
  }

  // ------------------------------------------------------------------ start and stop

  async start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.notify("This browser lets a page use the microphone only on https:// or on localhost " +
        "(127.0.0.1). " +
        "Open this page as http://localhost:PORT/ on the server's machine, or serve it over https.");
      return;
    }
    if (!window.AudioWorkletNode) {
      this.notify("This browser has no AudioWorklet, which live dictation needs; use a current browser.");
      return;
    }
    this.notify(null);
    this.setState("starting", "Asking for the microphone…");
    // Made during the click, so that the browser lets it play (autoplay rules).
    const context = new AudioContext({ sampleRate: RATE, latencyHint: "interactive" });
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (error) {
      context.close();
      this.setState("idle", "Not listening.");
      this.notify(microphoneMessage(error));
      return;
    }
    try {
      this.setState("starting", "Connecting to the server…");
      this.socket = await this.connect();
      this.capture = await startCapture(context, stream, (data) => this.onChunk(data));
    } catch (error) {
      stream.getTracks().forEach((track) => track.stop());
      context.close();
      this.dropSocket();
      this.setState("idle", "Not listening.");
      this.notify(error.message || String(error));
      return;
    }
    this.setState("listening", `Listening (${this.model() || "default model"}). Speak now.`);
  }

  /** Stop the microphone; the open utterance still gets its final before the socket closes. */
  async stop() {
    if (this.state !== "listening") return;
    this.setState("stopping", "Finishing the last sentence…");
    this.releaseCapture();
    const socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "input_audio_buffer.commit" }));
      const deadline = performance.now() + FINISH_WAIT_MS;
      // The commit's answer (speech_stopped, or an "empty" error) comes before we can know.
      await sleep(300);
      while (this.openItems().length && socket.readyState === WebSocket.OPEN && performance.now() < deadline) {
        await sleep(50);
      }
    }
    this.dropSocket();
    this.setState("idle", "Not listening.");
  }

  /** The WebSocket, once the server took the session settings; else an ApiError saying why not. */
  connect() {
    return new Promise((resolve, reject) => {
      let socket;
      try {
        socket = new WebSocket(realtimeUrl(), realtimeProtocols());
      } catch (error) {
        reject(error instanceof ApiError ? error : new ApiError(`Cannot open the WebSocket: ${error.message}`));
        return;
      }
      let opened = false;
      let settled = false;
      const fail = (error) => {
        if (!settled) {
          settled = true;
          socket.onclose = null;
          if (socket.readyState !== WebSocket.CLOSED) socket.close();
          reject(error);
        }
      };
      socket.onopen = () => {
        opened = true;
        socket.send(JSON.stringify(this.sessionUpdate()));
      };
      socket.onmessage = (message) => {
        const event = JSON.parse(message.data);
        if (event.type === "session.updated" && !settled) {
          settled = true;
          socket.onmessage = (next) => this.onEvent(JSON.parse(next.data));
          socket.onclose = (closed) => this.onClosed(closed);
          resolve(socket);
        } else if (event.type === "error") {
          fail(new ApiError(`The server refused the live session: ${event.error.message}`, { code: event.error.code }));
        }
      };
      socket.onclose = async (closed) => {
        // A refused handshake tells a page nothing (no status, code 1006): ask the HTTP API why.
        fail(opened ? closedMessage(closed) : await diagnose());
      };
    });
  }

  sessionUpdate() {
    const transcription = {};
    if (this.model()) transcription.model = this.model();
    return {
      type: "session.update",
      session: {
        type: "transcription",
        audio: {
          input: {
            format: { type: "audio/pcm", rate: RATE },
            transcription,
            turn_detection: { type: "server_vad" },
          },
        },
      },
    };
  }

  releaseCapture() {
    const capture = this.capture;
    this.capture = null;
    if (capture) {
      capture.node.port.onmessage = null;
      capture.stream.getTracks().forEach((track) => track.stop());
      capture.context.close();
    }
    this.ui.level.value = 0;
    this.level = 0;
  }

  dropSocket() {
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(1000);
    }
    this.sent = 0;
    this.timeline = [];
    for (const [id, item] of this.items) {
      if (item.element) item.element.remove();
      this.items.delete(id);
    }
    this.renderPending();
  }

  onClosed(closed) {
    this.socket = null;
    const unfinished = this.openItems().length;
    this.releaseCapture();
    this.dropSocket();
    this.setState("idle", "Not listening.");
    const lost = closedMessage(closed).message;
    this.notify(`${lost}${unfinished ? " The sentence in progress was lost." : ""} The text so far stays ` +
      "on this page; press Start dictation to try again.");
  }

  // ------------------------------------------------------------------ audio

  onChunk({ pcm, peak }) {
    this.showLevel(peak);
    const socket = this.socket; // set once the server took the session settings
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: "input_audio_buffer.append", audio: base64(pcm) }));
    this.sent += pcm.byteLength / 2;
    this.timeline.push([this.sent, performance.now()]);
    if (this.timeline.length > 1 && this.timeline[0][0] < this.sent - TIMELINE_KEEP) this.timeline.shift();
  }

  showLevel(peak) {
    // A 60 dB scale, falling back slowly so that the meter is readable.
    const db = peak > 0 ? 20 * Math.log10(peak) : -100;
    const value = Math.min(1, Math.max(0, (db + 60) / 60));
    this.level = Math.max(value, this.level - 0.04);
    this.ui.level.value = this.level;
  }

  /**
   * When the page had the session's sample number `sample` in hand (performance.now() time).
   * A chunk reaches the page when its last sample was captured; an earlier sample of the
   * chunk was captured that many samples before.
   */
  capturedAt(sample) {
    for (const [sent, time] of this.timeline) {
      if (sent >= sample) return time - ((sent - sample) / RATE) * 1000;
    }
    return null;
  }

  // ------------------------------------------------------------------ server events

  onEvent(event) {
    switch (event.type) {
      case "input_audio_buffer.speech_started":
        this.item(event.item_id);
        this.status("Hearing speech…");
        break;
      case `${PREFIX}.delta`:
        this.item(event.item_id).text += event.delta;
        this.renderPending();
        break;
      case "input_audio_buffer.speech_stopped":
        this.item(event.item_id).audioEndMs = event.audio_end_ms;
        if (this.state === "listening") this.status("Finishing the sentence…");
        break;
      case `${PREFIX}.completed`:
        this.complete(event.item_id, event.transcript);
        break;
      case `${PREFIX}.failed`:
        this.items.delete(event.item_id);
        this.renderPending();
        this.notify(`A sentence could not be transcribed: ${event.error.message}`);
        break;
      case "error":
        if (this.state === "stopping" && event.error.code === "input_audio_buffer_commit_empty") break;
        this.notify(`The server reported an error: ${event.error.message}`);
        break;
      default:
        break; // committed, session events: nothing to show
    }
  }

  item(id) {
    if (!this.items.has(id)) this.items.set(id, { text: "", audioEndMs: null, done: false });
    return this.items.get(id);
  }

  openItems() {
    return [...this.items.values()].filter((item) => !item.done);
  }

  /**
   * An utterance's final. Its latency is measured in the page, from the end of speech to the
   * moment the final arrives: the end of speech is the server's (speech_stopped's audio_end_ms,
   * a position in the audio the page sent), turned into the time the page captured that sample.
   * Timing from the arrival of speech_stopped instead would leave out the silence the server
   * waits for before it knows speech ended, which a person waits for too. Both times are read
   * on the page's clock, so no clock needs to agree with the server's.
   */
  complete(id, transcript) {
    const item = this.item(id);
    item.done = true;
    const arrived = performance.now();
    let latency = null;
    if (item.audioEndMs !== null) {
      const spoken = this.capturedAt((item.audioEndMs * RATE) / 1000);
      if (spoken !== null) latency = Math.max(0, Math.round(arrived - spoken));
    }
    this.items.delete(id);
    this.renderPending();
    if (!transcript) return; // the model heard no words
    const li = document.createElement("li");
    li.className = "final";
    const text = document.createElement("span");
    text.className = "final-text";
    text.textContent = transcript;
    li.append(text);
    if (latency !== null) {
      li.dataset.latencyMs = String(latency);
      const badge = document.createElement("span");
      badge.className = "latency";
      badge.textContent = `${(latency / 1000).toFixed(2)} s`;
      badge.title = "From the end of speech to this final text";
      badge.setAttribute("aria-label", `final after ${(latency / 1000).toFixed(2)} seconds`);
      li.append(badge);
      this.latencies.push(latency);
    }
    this.ui.finals.append(li);
    this.ui.empty.hidden = true;
    this.ui.finals.parentElement.scrollTop = this.ui.finals.parentElement.scrollHeight;
    this.renderSummary();
    if (this.state === "listening") this.status(`Listening (${this.model() || "default model"}).`);
  }

  renderPending() {
    const pending = this.ui.pending;
    pending.textContent = "";
    const open = this.openItems();
    if (!open.length) return;
    pending.append(open.map((item) => item.text.trim()).filter(Boolean).join(" "));
    const caret = document.createElement("span");
    caret.className = "caret";
    caret.setAttribute("aria-hidden", "true");
    caret.textContent = " ▍";
    pending.append(caret);
    this.ui.empty.hidden = true;
  }

  renderSummary() {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    const last = this.latencies[this.latencies.length - 1];
    this.ui.summary.textContent = `End of speech to final text: last ${last} ms, median ${median} ms ` +
      `over ${sorted.length} sentence${sorted.length === 1 ? "" : "s"}.`;
    this.ui.summary.dataset.medianMs = String(median);
  }

  clear() {
    this.ui.finals.textContent = "";
    this.latencies = [];
    this.ui.summary.textContent = "";
    delete this.ui.summary.dataset.medianMs;
    this.ui.empty.hidden = this.openItems().length > 0;
  }

  // ------------------------------------------------------------------ page state

  setState(state, message) {
    this.state = state;
    const on = state === "listening" || state === "stopping";
    this.ui.button.setAttribute("aria-pressed", String(on));
    this.ui.label.textContent = on ? "Stop dictation" : "Start dictation";
    this.ui.button.setAttribute("aria-disabled", String(state === "starting" || state === "stopping"));
    this.ui.button.dataset.state = state;
    if (message) this.status(message);
  }

  status(text) {
    this.ui.status.textContent = text;
  }
}

async function startCapture(context, stream, onChunk) {
  let source;
  try {
    source = context.createMediaStreamSource(stream);
  } catch (error) {
    // Firefox cannot connect a stream to a context of another rate: run at the device's rate
    // and let the worklet resample.
    await context.close();
    context = new AudioContext({ latencyHint: "interactive" });
    source = context.createMediaStreamSource(stream);
  }
  await context.audioWorklet.addModule(new URL("capture-worklet.js", import.meta.url));
  let input = source;
  if (context.sampleRate !== RATE) {
    for (let i = 0; i < 2; i++) { // below the target's Nyquist frequency before decimating
      const lowpass = new BiquadFilterNode(context, { type: "lowpass", frequency: RATE * 0.45, Q: Math.SQRT1_2 });
      input.connect(lowpass);
      input = lowpass;
    }
  }
  const node = new AudioWorkletNode(context, "pcm16-capture", {
    numberOfInputs: 1,
    numberOfOutputs: 0,
    channelCount: 1,
    channelCountMode: "explicit",
    channelInterpretation: "speakers",
    processorOptions: { targetRate: RATE, chunk: CHUNK },
  });
  node.port.onmessage = (message) => onChunk(message.data);
  input.connect(node);
  if (context.state !== "running") await context.resume();
  return { stream, context, node };
}

function microphoneMessage(error) {
  switch (error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "The microphone was denied, so live dictation cannot start. Allow this page to use the " +
        "microphone (the icon in the address bar, or the site settings) and press Start dictation again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Connect one and press Start dictation again.";
    case "NotReadableError":
    case "AbortError":
      return "The microphone could not be opened: another program may be using it.";
    default:
      return `The microphone could not be opened: ${error.message || error.name}`;
  }
}

function closedMessage(closed) {
  const why = {
    1001: "the server is going away",
    1008: "the server refused the session",
    1011: "the server had an internal error",
    1012: "the server is restarting or shutting down",
    1013: "the server is too busy; try again later",
  }[closed.code];
  const detail = [why, closed.reason].filter(Boolean).join(": ");
  return new ApiError(`Lost the connection to the server (WebSocket closed, code ${closed.code}` +
    `${detail ? `; ${detail}` : ""}).`, { code: "connection_lost" });
}

/** Why a WebSocket was refused before it opened: the same key on the HTTP API tells. */
async function diagnose() {
  try {
    await listModels();
  } catch (error) {
    if (error instanceof ApiError && error.status) return error;
    return unreachable();
  }
  return new ApiError("The server refused the live session before it opened (the API answers, " +
    "the WebSocket did not); see the server's log.", { code: "websocket_refused" });
}

function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
