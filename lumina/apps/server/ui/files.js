// File transcription: a picked or dropped file -> POST /v1/audio/transcriptions with the chosen
// response_format -> the text, its segments with times, and txt / srt / vtt files to download.
//
// Subtitle files come from the server's own answer when it was asked for that format, and are
// written from the segments (in the server's layout, subtitles.js) for the other one.

import { request } from "./api.js";
import { parseCues, shortTime, toSrt, toText, toVtt } from "./subtitles.js";

export class FileTranscriber {
  /**
   * @param {object} ui  the page's elements: form, input, drop, format, submit, cancel, status,
   *                     result, text, table, tableWrap, noTimes, links {txt, srt, vtt}
   * @param {function} notify  shows an error message to the person (null clears it)
   * @param {function} model  the chosen model's name
   */
  constructor(ui, { notify, model }) {
    this.ui = ui;
    this.notify = notify;
    this.model = model;
    this.file = null;
    this.abort = null;
    this.urls = [];
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.transcribe();
    });
    ui.input.addEventListener("change", () => this.choose(ui.input.files[0] || null));
    ui.cancel.addEventListener("click", () => this.abort && this.abort.abort());
    for (const name of ["dragenter", "dragover"]) {
      ui.drop.addEventListener(name, (event) => {
        event.preventDefault();
        ui.drop.classList.add("over");
      });
    }
    ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
    ui.drop.addEventListener("drop", (event) => {
      event.preventDefault();
      ui.drop.classList.remove("over");
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (file) this.choose(file);
    });
  }

  choose(file) {
    this.file = file;
    this.ui.status.textContent = file ? `Chosen: ${file.name} (${size(file.size)}).` : "";
  }

  async transcribe() {
    if (this.abort) return; // one at a time: the button says so (aria-disabled) and keeps the focus
    if (!this.file) {
      this.ui.status.textContent = "Choose a file first.";
      this.ui.input.focus();
      return;
    }
    const file = this.file;
    const format = this.ui.format.value;
    const form = new FormData();
    form.append("file", file, file.name);
    if (this.model()) form.append("model", this.model());
    form.append("response_format", format);
    this.notify(null);
    this.abort = new AbortController();
    this.busy(true);
    const started = performance.now();
    const ticker = setInterval(() => {
      this.ui.status.textContent = `Transcribing ${file.name}… ${((performance.now() - started) / 1000).toFixed(0)} s`;
    }, 1000);
    this.ui.status.textContent = `Transcribing ${file.name}…`;
    try {
      const response = await request("v1/audio/transcriptions", { method: "POST", body: form, signal: this.abort.signal });
      const result = read(format, await response.text());
      this.show(file.name, format, result);
      this.ui.status.textContent = `Transcribed ${file.name} in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
    } catch (error) {
      if (error.name === "AbortError") {
        this.ui.status.textContent = "Cancelled.";
      } else {
        this.ui.status.textContent = "The transcription failed.";
        this.notify(error.message);
      }
    } finally {
      clearInterval(ticker);
      this.busy(false);
      this.abort = null;
    }
  }

  busy(on) {
    this.ui.submit.setAttribute("aria-disabled", String(on));
    this.ui.cancel.hidden = !on;
  }

  show(name, format, result) {
    const ui = this.ui;
    ui.result.hidden = false;
    ui.text.textContent = result.text || "(no speech was recognised)";
    const body = ui.table.tBodies[0];
    body.textContent = "";
    const timed = result.segments !== null;
    ui.tableWrap.hidden = !timed;
    ui.noTimes.hidden = timed;
    for (const segment of result.segments || []) {
      const row = body.insertRow();
      row.insertCell().textContent = shortTime(segment.start);
      row.insertCell().textContent = shortTime(segment.end);
      row.insertCell().textContent = segment.text;
      row.cells[0].className = row.cells[1].className = "time";
    }
    const stem = name.replace(/\.[^.]*$/, "") || "transcript";
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    this.link(ui.links.txt, `${stem}.txt`, toText(result.text));
    this.link(ui.links.srt, `${stem}.srt`, format === "srt" ? result.body : timed ? toSrt(result.segments) : null);
    this.link(ui.links.vtt, `${stem}.vtt`, format === "vtt" ? result.body : timed ? toVtt(result.segments) : null);
    ui.result.dataset.format = format;
  }

  link(anchor, filename, content) {
    if (content === null) {
      anchor.removeAttribute("href");
      anchor.setAttribute("aria-disabled", "true");
      return;
    }
    const url = URL.createObjectURL(new Blob([content], { type: "text/plain;charset=utf-8" }));
    this.urls.push(url);
    anchor.href = url;
    anchor.download = filename;
    anchor.removeAttribute("aria-disabled");
  }
}

/** {text, segments (null when the format has no times), body} of a response in `format`. */
function read(format, body) {
  switch (format) {
    case "verbose_json": {
      const data = JSON.parse(body);
      const segments = (data.segments || []).map((s) => ({ start: s.start, end: s.end, text: s.text }));
      return { text: data.text, segments, body };
    }
    case "json":
      return { text: JSON.parse(body).text, segments: null, body };
    case "srt":
    case "vtt": {
      const segments = parseCues(body);
      return { text: segments.map((s) => s.text).join(" "), segments, body };
    }
    default:
      return { text: body.replace(/\n$/, ""), segments: null, body };
  }
}

function size(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
