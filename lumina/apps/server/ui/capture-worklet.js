// AudioWorklet processor: the microphone's mono float samples -> 16-bit PCM chunks at the target
// rate, each posted to the page with the chunk's peak level (for the level meter).
//
// The page runs its AudioContext at the target rate where the browser allows it, so the browser
// resamples and this processor only converts. Where a context cannot take a microphone stream
// of another rate (Firefox), the context runs at the device's rate, the page puts two low-pass
// filters in front of this processor, and it interpolates linearly down to the target rate.

class Pcm16Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, chunk } = options.processorOptions;
    this.step = sampleRate / targetRate; // input samples per output sample
    this.chunk = chunk;
    this.out = new Int16Array(chunk);
    this.filled = 0;
    this.peak = 0;
    this.at = 0; // where the next output sample lies, in input samples from this block's start
    this.previous = 0; // the last input sample of the previous block (index -1 of this one)
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true; // nothing connected (yet)
    if (this.step === 1) {
      for (let i = 0; i < channel.length; i++) this.push(channel[i]);
      return true;
    }
    const last = channel.length - 1;
    while (this.at <= last) {
      const i = Math.floor(this.at);
      const a = i < 0 ? this.previous : channel[i];
      const b = channel[i + 1];
      this.push(a + (b - a) * (this.at - i));
      this.at += this.step;
    }
    this.at -= channel.length;
    this.previous = channel[last];
    return true;
  }

  push(value) {
    // x * 32768 (not 32767) so that 16-bit input comes back exactly; the top clips to 32767.
    const sample = Math.max(-32768, Math.min(32767, Math.round(value * 32768)));
    this.out[this.filled++] = sample;
    const size = sample < 0 ? -sample : sample;
    if (size > this.peak) this.peak = size;
    if (this.filled === this.chunk) {
      this.port.postMessage({ pcm: this.out.buffer, peak: this.peak / 32768 }, [this.out.buffer]);
      this.out = new Int16Array(this.chunk);
      this.filled = 0;
      this.peak = 0;
    }
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
