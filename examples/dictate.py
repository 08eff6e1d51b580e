"""Minimal dictation: live partial text on one line, each final on its own line.

    python examples/dictate.py                  # default microphone, base.en
    python examples/dictate.py --file talk.wav  # a file played at real-time pace

Ctrl-C stops.
"""
import argparse

import lumina

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="base.en")
parser.add_argument("--partial-model", default="tiny.en")
parser.add_argument("--device", default=None, help="microphone index or name")
parser.add_argument("--file", default=None, help="dictate this file instead")
args = parser.parse_args()

source = lumina.FileSource(args.file) if args.file else lumina.MicrophoneSource(args.device)
stream = lumina.Stream(lumina.StreamModels(partial=args.partial_model, final=args.model),
                       source=source)
try:
    for event in stream:
        if isinstance(event, lumina.Partial):  # complete: the provisional text, until the Final
            tail = event.unstable if event.complete else f"\x1b[2m{event.unstable}\x1b[0m"
            print(f"\r\x1b[K{event.stable}{tail}", end="", flush=True)
        elif isinstance(event, lumina.Final):
            print(f"\r\x1b[K{event.text}")
        elif isinstance(event, (lumina.Dropped, lumina.DeviceLost)):
            print(f"\r\x1b[K[{event}]")
except KeyboardInterrupt:
    pass
finally:
    stream.stop()
