// Segments <-> text, SubRip (SRT) and WebVTT, in the same layout as lumina's own writer
// (lumina/asr/formats.py): cues of the segments that have text, numbered from 1 in SRT, times
// rounded to the millisecond, each cue ending with a newline, cues separated by an empty line.

/** "HH:MM:SS,mmm" (SRT, decimal ",") or "HH:MM:SS.mmm" (VTT, decimal "."). */
export function clock(seconds, decimal) {
  let millis = Math.round(Math.max(seconds, 0) * 1000);
  const hours = Math.floor(millis / 3600000);
  millis -= hours * 3600000;
  const minutes = Math.floor(millis / 60000);
  millis -= minutes * 60000;
  const secs = Math.floor(millis / 1000);
  millis -= secs * 1000;
  const two = (n) => String(n).padStart(2, "0");
  return `${two(hours)}:${two(minutes)}:${two(secs)}${decimal}${String(millis).padStart(3, "0")}`;
}

/** "m:ss.mmm" for the page's table (hours only when there are some). */
export function shortTime(seconds) {
  const full = clock(seconds, ".");
  const [h, m, rest] = full.split(":");
  return h === "00" ? `${Number(m)}:${rest}` : `${Number(h)}:${m}:${rest}`;
}

function cues(segments, decimal, numbered) {
  return segments
    .filter((s) => s.text)
    .map((s, i) => `${numbered ? `${i + 1}\n` : ""}${clock(s.start, decimal)} --> ${clock(s.end, decimal)}\n${s.text}\n`)
    .join("\n");
}

export function toSrt(segments) {
  return cues(segments, ",", true);
}

export function toVtt(segments) {
  return `WEBVTT\n\n${cues(segments, ".", false)}`;
}

export function toText(text) {
  return `${text}\n`;
}

const TIMES = /^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})\s+-->\s+(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})/;

function seconds(h, m, s, ms) {
  return Number(h || 0) * 3600 + Number(m) * 60 + Number(s) + Number(ms) / 1000;
}

/** The segments ({start, end, text}) of an SRT or WebVTT body. */
export function parseCues(body) {
  const segments = [];
  for (const block of body.replace(/\r\n/g, "\n").split(/\n{2,}/)) {
    const lines = block.split("\n").filter((line) => line !== "");
    const at = lines.findIndex((line) => TIMES.test(line));
    if (at < 0) continue; // the WEBVTT header, a note, a style block
    const t = TIMES.exec(lines[at]);
    segments.push({
      start: seconds(t[1], t[2], t[3], t[4]),
      end: seconds(t[5], t[6], t[7], t[8]),
      text: lines.slice(at + 1).join("\n"),
    });
  }
  return segments;
}
