"""Dictation output: the live line in a terminal, and typing into the focused window.

:class:`LineView` shows the current partial on one terminal line, rewritten in
place (carriage return, then clear to the end of the line), and commits each
final on its own line. :class:`Typer` types text into the focused window with
an external tool and fixes a changed partial tail with backspaces.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from lumina.errors import DeviceError
from lumina.streaming.events import Final, Partial

__all__ = ["LineView", "Typer", "detect_typing_tool", "CLEAR_LINE"]

#: Carriage return plus ANSI "erase to end of line": the line is rewritten in place.
CLEAR_LINE = "\r\x1b[K"


class LineView:
    """The live partial on one terminal line; finals committed line by line.

    Parameters
    ----------
    out : text stream, default sys.stdout
    width : int, optional
        Columns available; default the terminal's width. A longer partial shows
        its end, after an ellipsis, so the line never wraps (a wrapped line
        cannot be rewritten with a carriage return).
    """

    def __init__(self, out: TextIO | None = None, width: int | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.width = width or shutil.get_terminal_size().columns
        self._shown = False

    def partial(self, event: Partial) -> None:
        """Replace the live line with the partial's text."""
        self.out.write(CLEAR_LINE + self._fit(event.text))
        self.out.flush()
        self._shown = True

    def final(self, event: Final) -> None:
        """Clear the live line and commit the final's text (an empty final just clears)."""
        self.out.write(CLEAR_LINE + (event.text + "\n" if event.text else ""))
        self.out.flush()
        self._shown = False

    def close(self) -> None:
        """Clear a partial still shown, so the shell prompt starts on a clean line."""
        if self._shown:
            self.out.write(CLEAR_LINE)
            self.out.flush()
            self._shown = False

    def _fit(self, text: str) -> str:
        room = max(1, self.width - 1)  # the last column would make some terminals wrap
        return text if len(text) <= room else "…" + text[len(text) - room + 1:]


def detect_typing_tool(env: Mapping[str, str] | None = None,
                       which: Callable[[str], str | None] = shutil.which) -> str:
    """Name the tool that types into the focused window: ``xdotool``, ``wtype`` or ``ydotool``.

    Wayland sessions (``WAYLAND_DISPLAY`` set, or ``XDG_SESSION_TYPE=wayland``) use
    wtype, else ydotool; X11 sessions (``DISPLAY`` set) use xdotool.

    Raises
    ------
    DeviceError
        When there is no graphical session or its tool is not installed.
    """
    env = os.environ if env is None else env
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        for tool in ("wtype", "ydotool"):
            if which(tool):
                return tool
        raise DeviceError("typing on Wayland needs wtype or ydotool on the PATH; install one "
                          "(for example `apt install wtype`)")
    if env.get("DISPLAY"):
        if which("xdotool"):
            return "xdotool"
        raise DeviceError("typing on X11 needs xdotool on the PATH; install it (`apt install xdotool`)")
    raise DeviceError("--type needs a graphical session (DISPLAY or WAYLAND_DISPLAY is not set)")


def _backspaces(tool: str, n: int) -> list[str]:
    if tool == "xdotool":
        return ["xdotool", "key", "--clearmodifiers", "--repeat", str(n), "BackSpace"]
    if tool == "wtype":
        return ["wtype", *["-k", "BackSpace"] * n]
    return ["ydotool", "key", *["14:1", "14:0"] * n]  # 14: the BackSpace key code


def _run_tool(cmd: Sequence[str]) -> None:
    """Run one typing command; a tool that fails or cannot start is a DeviceError, not a traceback."""
    try:
        subprocess.run(cmd, check=True)
    except subprocess.CalledProcessError as exc:
        raise DeviceError(f"{cmd[0]} failed (exit status {exc.returncode}) while typing; "
                          "is the focused window accepting input?") from exc
    except OSError as exc:
        raise DeviceError(f"cannot run {cmd[0]}: {exc}") from exc


def _type(tool: str, text: str) -> list[str]:
    if tool == "xdotool":
        return ["xdotool", "type", "--clearmodifiers", "--", text]
    return [tool, "--", text] if tool == "wtype" else ["ydotool", "type", "--", text]


class Typer:
    """Type dictated text into the focused window.

    The current utterance's partial is typed as it changes: the characters
    that differ from what was typed are erased with backspaces and the new
    tail typed. The provisional text of the whole utterance
    (``Partial.complete``) comes the moment speech stops; the final then
    replaces it the same way, only where it differs, and is committed with a
    space after it.

    Parameters
    ----------
    tool : {"xdotool", "wtype", "ydotool"}
        See :func:`detect_typing_tool`.
    run : callable, default subprocess.run with check=True
        Runs one command (a list of arguments).
    """

    def __init__(self, tool: str, run: Callable[[Sequence[str]], object] | None = None) -> None:
        if tool not in ("xdotool", "wtype", "ydotool"):
            raise ValueError(f"tool must be 'xdotool', 'wtype' or 'ydotool', got {tool!r}")
        self.tool = tool
        self._run = run or _run_tool
        self.typed = ""

    def show(self, text: str) -> None:
        """Make the uncommitted text typed so far read ``text``."""
        keep = 0
        limit = min(len(text), len(self.typed))
        while keep < limit and text[keep] == self.typed[keep]:
            keep += 1
        if len(self.typed) > keep:
            self._run(_backspaces(self.tool, len(self.typed) - keep))
            self.typed = self.typed[:keep]  # what is on screen, should the next command fail
        if len(text) > keep:
            self._run(_type(self.tool, text[keep:]))
        self.typed = text

    def partial(self, event: Partial) -> None:
        """Type the partial's text, correcting what changed."""
        self.show(event.text)

    def final(self, event: Final) -> None:
        """Replace the partial with the final text and commit it."""
        self.show(event.text + " " if event.text else "")
        self.typed = ""

    def discard(self) -> None:
        """Erase the uncommitted partial: an utterance cut short (Ctrl-C) never became a final."""
        self.show("")
