#!/usr/bin/env python3
"""cdp.py: a small Chrome DevTools Protocol client (standard library only).

It starts headless Chromium with --remote-debugging-pipe: the browser
reads commands on its fd 3 and writes replies and events on its fd 4,
each message one JSON object ended by a NUL byte. Every wait has a
deadline (TIMEOUT seconds), so a browser that hangs fails the caller
instead of hanging it.

    from cdp import Browser, find_chromium
    with Browser(find_chromium()) as b:
        b.navigate("file:///tmp/page.html")
        print(b.evaluate("document.title"))
        print(b.console_messages())      # every console line and error

From the command line:
    cdp.py find                             print the browser's path
                                            (exit 1 when there is none)
    cdp.py screenshot URL OUT.png WIDTH HEIGHT
                                            a PNG of URL in a WIDTH x HEIGHT
                                            window (for README pictures)
"""
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TIMEOUT = 30.0

# Headless flags that work on a bare Debian machine or container: no
# sandbox (as root, or without user namespaces), no GPU, /tmp instead of a
# small /dev/shm, and nothing that talks to the network on its own.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--mute-audio",
]


class CDPError(Exception):
    """The browser answered with an error, went away, or took too long."""


def find_chromium():
    """The browser to drive: $LSM_CHROMIUM when set (a path or a name on
    PATH), else chromium, chromium-browser or google-chrome on PATH.
    None when there is none."""
    wanted = os.environ.get("LSM_CHROMIUM")
    if wanted:
        return shutil.which(wanted)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _fd_above(fd, low=10):
    """fd moved to a number >= low (so that placing the pipes at 3 and 4
    in the child cannot overwrite it); the old number is closed."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, low)
    os.close(fd)
    return new


# Runs in the child between fork and the browser: puts the pipe ends (fds
# above 9, given as argv[1] and argv[2]) at 3 and 4, closes the originals
# and execs the browser, so the pid stays the browser's. (sh cannot do it:
# dash knows no fd above 9.)
_PLACE_FDS = (
    "import os, sys\n"
    "r, w = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
    "os.execvp(sys.argv[3], sys.argv[3:])\n")


class Browser:
    """One headless Chromium and one page in it (a target we attach to
    with a flat session). Events are kept in self.events, in order."""

    def __init__(self, executable, timeout=TIMEOUT, width=1280, height=900):
        if not executable:
            raise CDPError("no Chromium to start")
        self.executable = executable
        self.timeout = timeout
        self.width, self.height = width, height
        self.proc = None
        self.profile = None
        self.session_id = None
        self.events = []        # every event: dicts with method, params
        self._next_id = 0
        self._inbuf = b""
        self._to_browser = self._from_browser = None

    # --- start and stop ---------------------------------------------------

    def start(self):
        """Starts the browser and opens a blank page; stops everything
        again if any of that fails."""
        try:
            self._launch()
            self._open_page()
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self):
        self.profile = tempfile.mkdtemp(prefix="lsm-cdp-profile.")
        self.stderr_path = os.path.join(self.profile, "stderr.txt")
        # Commands go down one pipe, replies come up the other. The
        # browser's ends must be its fds 3 and 4 (see _PLACE_FDS).
        cmd_read, self._to_browser = os.pipe()
        self._from_browser, reply_write = os.pipe()
        try:
            cmd_read = _fd_above(cmd_read)
            reply_write = _fd_above(reply_write)
            argv = [sys.executable, "-I", "-c", _PLACE_FDS, str(cmd_read),
                    str(reply_write), self.executable] + FLAGS + [
                "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % (self.width, self.height),
                "about:blank",
            ]
            with open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                    pass_fds=(cmd_read, reply_write),
                    start_new_session=True)  # its own group: stop() kills all
        finally:
            os.close(cmd_read)      # the browser's ends: ours are closed
            os.close(reply_write)   # so that its exit reads as EOF
        os.set_blocking(self._to_browser, False)
        os.set_blocking(self._from_browser, False)
        self.version = self.send("Browser.getVersion")

    def _open_page(self):
        target = self.send("Target.createTarget", {"url": "about:blank"})
        self.target_id = target["targetId"]
        attached = self.send("Target.attachToTarget",
                             {"targetId": self.target_id, "flatten": True})
        self.session_id = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.page_send(domain + ".enable")
        self.page_send("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": self.height,
            "deviceScaleFactor": 1, "mobile": False})

    def stop(self):
        """Closes the browser (politely for a second, then SIGKILL to its
        whole process group) and removes its profile directory."""
        if self.proc is not None:
            if self.proc.poll() is None and self._to_browser is not None:
                try:
                    close = {"id": self._take_id(), "method": "Browser.close"}
                    self._write(close, time.monotonic() + 1)
                    self.proc.wait(timeout=2)
                except (CDPError, OSError, subprocess.TimeoutExpired):
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        for fd in (self._to_browser, self._from_browser):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._to_browser = self._from_browser = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def browser_stderr(self):
        """What the browser printed (for a failure report)."""
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    # --- the wire -------------------------------------------------------

    def _take_id(self):
        self._next_id += 1
        return self._next_id

    def _write(self, message, deadline):
        data = json.dumps(message).encode() + b"\0"
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out sending %s" % message.get("method"))
            _, ready, _ = select.select([], [self._to_browser], [], left)
            if ready:
                try:
                    data = data[os.write(self._to_browser, data):]
                except BrokenPipeError:
                    raise CDPError("the browser closed its pipe") from None

    def _read(self, deadline):
        """The next message from the browser, waiting until deadline."""
        while b"\0" not in self._inbuf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out after %.0f s waiting for the browser"
                               % self.timeout)
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise CDPError("the browser exited (status %s); it said:\n%s" %
                               (self.proc.poll(), self.browser_stderr()))
            self._inbuf += chunk
        raw, self._inbuf = self._inbuf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, params=None, session_id=None):
        """Sends one command and returns its result; events that arrive
        meanwhile go to self.events. Raises CDPError on an error reply."""
        deadline = time.monotonic() + self.timeout
        msg_id = self._take_id()
        message = {"id": msg_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        try:
            self._write(message, deadline)
            while True:
                reply = self._read(deadline)
                if "id" not in reply:
                    self.events.append(reply)
                elif reply["id"] == msg_id:
                    break
                # else a reply to a command abandoned earlier: dropped
        except CDPError as e:
            raise CDPError("%s (%s)" % (e, method)) from None
        if "error" in reply:
            raise CDPError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def page_send(self, method, params=None):
        """send() to the attached page."""
        return self.send(method, params, self.session_id)

    def wait_event(self, method, since=0, timeout=None):
        """The first event named method (from the page's session) at index
        since or later in self.events, reading more until it comes."""
        deadline = time.monotonic() + (timeout or self.timeout)
        i = since
        while True:
            while i < len(self.events):
                ev = self.events[i]
                i += 1
                if (ev.get("method") == method and
                        ev.get("sessionId") == self.session_id):
                    return ev
            try:
                msg = self._read(deadline)
            except CDPError as e:
                raise CDPError("%s (waiting for %s)" % (e, method)) from None
            if "id" not in msg:     # not a late reply
                self.events.append(msg)

    def pump(self, seconds=0.05):
        """Reads whatever events arrive within seconds (for example a
        console line a click caused)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                msg = self._read(deadline)
            except CDPError:
                if self.proc.poll() is not None:
                    raise
                return
            if "id" not in msg:
                self.events.append(msg)

    # --- the page -------------------------------------------------------

    def navigate(self, url):
        """Loads url and waits for its load event. A URL that differs from
        the current one only in its #fragment does not load the document
        again (no load event): go to about:blank first to start afresh."""
        since = len(self.events)
        result = self.page_send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError("navigating to %s: %s" % (url, result["errorText"]))
        if "loaderId" in result:      # a new document, not a same-page jump
            self.wait_event("Page.loadEventFired", since)
        return result

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (awaited when
        it is a promise), as JSON gives it. Raises CDPError with the
        exception's text when it throws."""
        result = self.page_send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True,
            "awaitPromise": True, "userGesture": True})
        details = result.get("exceptionDetails")
        if details:
            exc = details.get("exception", {})
            raise CDPError("JavaScript threw: %s\n  in: %s" % (
                exc.get("description") or details.get("text"), expression))
        return result.get("result", {}).get("value")

    def console_messages(self):
        """Every console call, uncaught exception and log entry (warnings,
        network errors, interventions...) seen so far, as readable lines."""
        lines = []
        for ev in self.events:
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", "")))
                                for a in p.get("args", []))
                lines.append("console.%s: %s" % (p.get("type"), text))
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                exc = d.get("exception", {})
                lines.append("exception: %s (%s:%s)" % (
                    exc.get("description") or d.get("text"),
                    d.get("url", ""), d.get("lineNumber", "")))
            elif method == "Log.entryAdded":
                e = p.get("entry", {})
                lines.append("log %s %s: %s %s" % (
                    e.get("source"), e.get("level"), e.get("text"),
                    e.get("url", "")))
        return lines

    def requested_urls(self):
        """The URL of every request the page made (Network domain)."""
        return [ev["params"]["request"]["url"] for ev in self.events
                if ev.get("method") == "Network.requestWillBeSent"]

    # --- input, as a person gives it -------------------------------------

    def mouse(self, kind, x, y, button="none", clicks=0):
        """One Input.dispatchMouseEvent: kind is mouseMoved, mousePressed
        or mouseReleased; x and y in CSS pixels of the viewport."""
        self.page_send("Input.dispatchMouseEvent", {
            "type": kind, "x": x, "y": y, "button": button,
            "buttons": 1 if kind == "mousePressed" else 0,
            "clickCount": clicks})

    def click(self, x, y):
        """A left click at (x, y): move there, press, release."""
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, "left", 1)
        self.mouse("mouseReleased", x, y, "left", 1)

    # The keys press_key knows: DOM key -> (code, Windows virtual key code).
    KEYS = {"ArrowLeft": ("ArrowLeft", 37), "ArrowRight": ("ArrowRight", 39),
            "ArrowUp": ("ArrowUp", 38), "ArrowDown": ("ArrowDown", 40),
            "Home": ("Home", 36), "End": ("End", 35),
            "Tab": ("Tab", 9), "Escape": ("Escape", 27)}

    def press_key(self, key):
        """Presses and releases a key without text (see KEYS) on whatever
        element has the focus."""
        code, vk = self.KEYS[key]
        for kind in ("rawKeyDown", "keyUp"):
            self.page_send("Input.dispatchKeyEvent", {
                "type": kind, "key": key, "code": code,
                "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk})

    # --- pictures -------------------------------------------------------

    def screenshot(self, path, width, height):
        """Writes a PNG of the viewport, sized width x height CSS pixels."""
        self.page_send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": False})
        shot = self.page_send("Page.captureScreenshot", {"format": "png"})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))


def main(argv):
    usage = ("usage: cdp.py find\n"
             "       cdp.py screenshot URL OUT.png WIDTH HEIGHT\n")
    if argv[1:2] == ["find"] and len(argv) == 2:
        path = find_chromium()
        if not path:
            return 1
        print(path)
        return 0
    if argv[1:2] == ["screenshot"] and len(argv) == 6:
        url, out = argv[2], argv[3]
        width, height = int(argv[4]), int(argv[5])
        exe = find_chromium()
        if not exe:
            sys.stderr.write("cdp.py: Chromium is not installed "
                             "(apt-get install chromium)\n")
            return 1
        if "://" not in url and not url.startswith(("about:", "data:")):
            url = "file://" + os.path.abspath(url)
        with Browser(exe, width=width, height=height) as b:
            b.navigate(url)
            b.evaluate("document.fonts.ready.then(() => true)")
            b.screenshot(out, width, height)
            for line in b.console_messages():
                sys.stderr.write("cdp.py: page said: %s\n" % line)
        return 0
    sys.stderr.write(usage)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except CDPError as e:
        sys.stderr.write("cdp.py: %s\n" % e)
        sys.exit(1)
