#!/usr/bin/env python3
"""draw_html_check.py DIR CASE...: checks pages from lsm-cli's draw --html
in headless Chromium (cdp.py drives it; one browser for every case).

For each CASE, DIR/CASE.out is the session's output and DIR/CASE.html
the page it wrote. The session printed dump -v and manifest at chosen
points, the last ones just before draw --html; those say, independently
of the page, which SSTs were live at each point and how many flush and
compaction records (the page's steps after step 0) the MANIFEST held.
A CASE whose name ends in -background ran in threads mode; one that
starts with tiered names its dump rows as tiers.

Checked, for every case:
- the session said "wrote FILE"; lsmHistory.count is 1 + the flush and
  compaction records of the last manifest;
- every step k (go(k)): step(k)'s kind, removed and added are the
  manifest record's (a flush adds its SST; a trivial move removes and
  adds the same ids); svg#lsm-after holds one rect.sst per SST of the
  tree the records up to k make, in the row that record put it in
  (data-row "L0 5", "L2", "tier 13"), and svg#lsm-before the tree before
  (nothing at step 0); the rects of class added are step(k).added and
  those of class removed step(k).removed; #lsm-step-title holds
  step(k).title, #lsm-step-reason its reason, the slider says k; no two
  steps have the same title text; a compaction's reason is what the
  session printed just before it announced that compaction;
- at step 0 the tree is the MANIFEST's snapshot; at each dump point's
  step (its manifest's record count) and at the last step the SSTs and
  rows are the dump's (threads mode: only the last dump, after
  full_compaction; a middle one may show a tree no prefix of the MANIFEST
  holds, since a compaction records before it installs);
- the page opens at the last step, or at K for #step=K (0 too); #lsm-prev
  and #lsm-next (clicked with the mouse, at their centres), ArrowLeft,
  ArrowRight, Home and End move one step or to an end, or stay at the
  ends; the slider moves to the step its value says (set with an input
  event, or clicked with the mouse at either end), and an arrow key while
  it has the focus moves one step, not two; each shows the same title as
  go(k) and leaves the slider at k; go() clamps;
- #lsm-tip is hidden at first; hovering an SST's rect (the mouse at its
  centre: nothing may cover it), a click event on it, or a touch tap on
  it shows the tip, all of it inside the window, with the SST's id, its
  size, its entries (the count dump -v gave, where it listed the SST)
  and its key range; every SST of both pictures is hovered at step 0, at
  the dump points' steps and at the last step;
- the page requested nothing but its own file (and data: URLs), and the
  console stayed empty: no log line, warning, error or exception.
Exit status 0 when all hold, 1 with the reasons otherwise.
"""
import os
import pathlib
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CDPError, find_chromium  # noqa: E402


# --- what lsm-cli printed -----------------------------------------------

def parse_ids(text):
    return [int(x) for x in text.split(",") if x.strip()]


class Record:
    """One step: the snapshot, a flush or a compaction (trivial moves
    included) of the manifest output."""

    def __init__(self, kind, line):
        self.kind = kind          # snapshot, flush or compaction
        self.line = line          # the manifest's line, for messages
        self.removed, self.added = [], []
        self.row = {}             # SST id -> the row it went to
        self.meta = {}            # SST id -> (bytes, first key, last key)


def parse_manifest(lines):
    """The steps of one manifest output, and complaints about lines it
    could not read."""
    records, bad = [], []
    cur = None
    for line in lines:
        m = re.match(r"@\d+ (.*)$", line)
        if not m:
            s = re.match(r"    (\d+)\.sst(?: in (L\d+|tier \d+))?: "
                         r"(\d+) B, (\S*)\.\.(\S*)$", line)
            if s and cur is not None:
                sid = int(s.group(1))
                cur.meta[sid] = (int(s.group(3)), s.group(4), s.group(5))
                if cur.kind == "snapshot":
                    place = s.group(2)
                    cur.added.append(sid)
                    cur.row[sid] = "L0 %d" % sid if place == "L0" else place
            continue
        body, cur = m.group(1), None
        if body.startswith("snapshot:"):
            cur = Record("snapshot", line)
        elif body.startswith("flush "):
            f = re.match(r"flush \d+ -> (L0|new tier) (\d+)\.sst"
                         r"(?: \((\d+) B, (\S*)\.\.(\S*)\))?", body)
            if not f:
                bad.append(line)
                continue
            cur = Record("flush", line)
            sid = int(f.group(2))
            cur.added = [sid]
            cur.row[sid] = ("L0 %d" if f.group(1) == "L0" else "tier %d") % sid
            if f.group(3):
                cur.meta[sid] = (int(f.group(3)), f.group(4), f.group(5))
        elif body.startswith("compaction "):
            c = re.match(r"compaction (L\d+|into a new tier): "
                         r"removed \[([\d, ]*)\] added \[([\d, ]*)\]$", body)
            if not c:
                bad.append(line)
                continue
            cur = Record("compaction", line)
            cur.removed = parse_ids(c.group(2))
            cur.added = parse_ids(c.group(3))
            # a new tier is named by its first SST, as dump names it
            row = c.group(1) if c.group(1).startswith("L") else \
                "tier %d" % (cur.added[0] if cur.added else -1)
            cur.row = {sid: row for sid in cur.added}
        elif body.startswith("move to "):
            c = re.match(r"move to (L\d+): \[([\d, ]*)\]$", body)
            if not c:
                bad.append(line)
                continue
            cur = Record("compaction", line)
            cur.added = parse_ids(c.group(2))
            cur.removed = list(cur.added)    # the same SSTs, one level down
            cur.row = {sid: c.group(1) for sid in cur.added}
        elif not re.match(r"(new memtable|next id) ", body):
            bad.append(line)
        if cur is not None:
            records.append(cur)
    return records, bad


def dump_rows(lines, tiered):
    """SST id -> row label, from a dump's level lines ('L0 (2): [5, 4]',
    'L1 (3): [1, 2, 3]'; with tiers 'L13 (2): [13, 14]' is tier 13), and
    SST id -> (bytes, entries, first key, last key) from dump -v's lines."""
    rows, meta = {}, {}
    for line in lines:
        m = re.match(r"L(\d+) \(\d+\): \[([\d, ]*)\]$", line)
        if m:
            for sid in parse_ids(m.group(2)):
                if tiered:
                    rows[sid] = "tier " + m.group(1)
                elif m.group(1) == "0":
                    rows[sid] = "L0 %d" % sid
                else:
                    rows[sid] = "L" + m.group(1)
            continue
        v = re.match(r'  (\d+)\.sst: (\d+) B, (\d+) entries, \d+ blocks, '
                     r'keys b"(.*)"\.\.b"(.*)"', line)
        if v:
            meta[int(v.group(1))] = (int(v.group(2)), int(v.group(3)),
                                     v.group(4), v.group(5))
    return rows, meta


class Session:
    """A session's output: its (dump, manifest) points in order."""

    def __init__(self, path, tiered):
        with open(path, errors="replace") as f:
            self.text = f.read()
        self.points = []         # (dump rows, manifest records)
        self.meta = {}           # SST id -> (bytes, entries, first, last)
        self.bad_lines = []
        self.wrote = re.findall(r"^wrote (.+)$", self.text, re.M)
        block, dump = [], None
        for line in self.text.splitlines():
            if line == "dump success":
                dump, meta = dump_rows(block, tiered)
                self.meta.update(meta)
                block = []
            elif line == "manifest success":
                records, bad = parse_manifest(block)
                self.bad_lines += bad
                self.points.append((dump, records))
                dump, block = None, []
            else:
                block.append(line)


def replay(records):
    """The tree (SST id -> row) after each step."""
    trees, tree = [], {}
    for r in records:
        if r.kind == "snapshot":
            tree = {}
        for sid in r.removed:
            tree.pop(sid, None)
        tree.update(r.row)
        trees.append(dict(tree))
    return trees


# --- in the page ----------------------------------------------------------

# Every step as the page shows it, after go(k) for each k.
JS_ALL_STEPS = r"""(() => {
  const H = window.lsmHistory, out = [];
  const rects = sel => [...document.querySelectorAll(sel + " rect.sst")]
    .map(r => ({id: r.getAttribute("data-id"), row: r.getAttribute("data-row"),
                cls: [...r.classList]}));
  const text = sel => {
    const e = document.querySelector(sel);
    return e ? e.textContent.trim().replace(/\s+/g, " ") : null;
  };
  for (let k = 0; k < H.count; k++) {
    H.go(k);
    const s = H.step(k);
    out.push({current: H.current, step: JSON.parse(JSON.stringify(s)),
              idsAreNumbers: [...s.removed, ...s.added].every(
                  x => typeof x === "number"),
              after: rects("svg#lsm-after"), before: rects("svg#lsm-before"),
              title: text("#lsm-step-title"), reason: text("#lsm-step-reason"),
              slider: (document.getElementById("lsm-slider") || {}).value});
  }
  return out;
})()"""

# Where the page is, as a person sees it.
# Read after the next animation frame has run: the page draws a slider
# drag once a frame (as a person sees it, a frame later).
JS_STATE = r"""new Promise((done) => requestAnimationFrame(() =>
  requestAnimationFrame(() => {
    const t = document.getElementById("lsm-step-title");
    const s = document.getElementById("lsm-slider");
    done({current: window.lsmHistory.current,
          title: t ? t.textContent.trim().replace(/\s+/g, " ") : null,
          slider: s ? s.value : null});
  })))"""

# The viewport centre of the element sel (scrolled into view first), and
# what lies there.
JS_CENTRE = r"""((sel) => {
  const e = document.querySelector(sel);
  if (!e) return null;
  e.scrollIntoView({block: "center", inline: "center", behavior: "instant"});
  const r = e.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const hit = document.elementFromPoint(x, y);
  return {x, y, w: r.width, h: r.height,
          hits: !!hit && (hit === e || e.contains(hit)),
          there: hit ? hit.outerHTML.slice(0, 120) : null};
})(%s)"""

# #lsm-tip: shown or not, whether all of it lies in the window (a tip
# cut off at an edge hides what it says there: the key range, at the end),
# where it is, and its text.
JS_TIP = r"""(() => {
  const t = document.getElementById("lsm-tip");
  if (!t) return null;
  const cs = getComputedStyle(t), r = t.getBoundingClientRect();
  const view = document.documentElement;
  const shown = !t.hidden && cs.display !== "none" &&
    cs.visibility !== "hidden" && +cs.opacity > 0 && r.width > 0 &&
    r.height > 0;
  const inside = r.left >= 0 && r.top >= 0 &&
    r.right <= view.clientWidth + 0.5 && r.bottom <= view.clientHeight + 0.5;
  return {shown, inside, text: t.textContent.trim().replace(/\s+/g, " "),
          box: [r.left, r.top, r.right, r.bottom].map(Math.round),
          window: [view.clientWidth, view.clientHeight]};
})()"""


def squeeze(text):
    """text with each run of blanks one space, as the page's texts are
    compared (the page may break a line where step(k) has a newline)."""
    return re.sub(r"\s+", " ", str(text)).strip()


def js_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sst_sel(svg, sid):
    return 'svg#%s rect.sst[data-id="%d"]' % (svg, sid)


class Checker:
    def __init__(self, browser):
        self.b = browser
        self.problems = []

    def fail(self, case, what):
        self.problems.append("%s: %s" % (case, what))

    # --- one case -----------------------------------------------------

    def check_case(self, dirname, case):
        tiered = case.startswith("tiered")
        background = case.endswith("-background")
        html = os.path.join(dirname, case + ".html")
        session = Session(os.path.join(dirname, case + ".out"), tiered)
        for line in session.bad_lines:
            self.fail(case, "manifest line not understood: %r" % line)
        if html not in session.wrote:
            self.fail(case, "the session never said 'wrote %s'" % html)
            return
        if not session.points:
            self.fail(case, "the session printed no manifest")
            return
        records = session.points[-1][1]
        if not records or records[0].kind != "snapshot":
            self.fail(case, "the last manifest does not start with a snapshot")
            return
        self.meta = dict(session.meta)
        for r in records:               # bytes and keys of every SST
            for sid, (size, first, last) in r.meta.items():
                self.meta.setdefault(sid, (size, None, first, last))
        since = len(self.b.events)
        try:
            self.check_page(case, html, session, records, background)
        finally:
            self.check_quiet(case, html, since)

    def check_page(self, case, html, session, records, background):
        url = pathlib.Path(html).as_uri()
        self.b.navigate("about:blank")
        self.b.navigate(url)
        count = self.b.evaluate("window.lsmHistory && window.lsmHistory.count")
        if count != len(records):
            self.fail(case, "lsmHistory.count is %r; the MANIFEST holds the "
                      "snapshot and %d flush and compaction records" %
                      (count, len(records) - 1))
        if not isinstance(count, int) or count < 1:
            return
        opened = self.b.evaluate(JS_STATE)
        if opened["current"] != count - 1:
            self.fail(case, "opened at step %r, not the last (%d)" %
                      (opened["current"], count - 1))
        shown = self.b.evaluate(JS_ALL_STEPS)
        titles = [s["title"] for s in shown]
        self.check_steps(case, records[:count], shown)
        self.check_reasons(case, session, records[:count], shown)
        self.check_points(case, session, records, shown, background)
        self.check_navigation(case, url, count, titles)
        self.check_tips(case, url, session, count, background)

    def check_steps(self, case, records, shown):
        trees = replay(records)
        seen_titles = {}
        for k, (r, s) in enumerate(zip(records, shown)):
            where = "step %d (%s)" % (k, r.line)
            step = s["step"]
            if s["current"] != k:
                self.fail(case, "go(%d) left lsmHistory.current at %r" %
                          (k, s["current"]))
            if step.get("kind") != r.kind:
                self.fail(case, "%s: step(%d).kind is %r" %
                          (where, k, step.get("kind")))
            if not s["idsAreNumbers"]:
                self.fail(case, "%s: step(%d) has ids that are not numbers: "
                          "%r" % (where, k, step))
            if r.kind != "snapshot":
                for field in ("removed", "added"):
                    got = sorted(step.get(field) or [])
                    if got != sorted(getattr(r, field)):
                        self.fail(case, "%s: step(%d).%s is %s, the manifest "
                                  "says %s" % (where, k, field, got,
                                               sorted(getattr(r, field))))
            self.check_svg(case, where, "lsm-after", s["after"], trees[k],
                           "added", step.get("added") or [])
            before = trees[k - 1] if k else {}
            self.check_svg(case, where, "lsm-before", s["before"], before,
                           "removed", step.get("removed") or [])
            if not s["title"] or squeeze(step.get("title")) not in s["title"]:
                self.fail(case, "%s: #lsm-step-title says %r, without "
                          "step(%d).title %r" % (where, s["title"], k,
                                                 step.get("title")))
            if s["reason"] is None or \
                    squeeze(step.get("reason", "")) not in s["reason"]:
                self.fail(case, "%s: #lsm-step-reason says %r, without "
                          "step(%d).reason %r" % (where, s["reason"], k,
                                                  step.get("reason")))
            if s["slider"] != str(k):
                self.fail(case, "%s: the slider says %r" %
                          (where, s["slider"]))
            if s["title"] in seen_titles:
                self.fail(case, "steps %d and %d have the same title %r" %
                          (seen_titles[s["title"]], k, s["title"]))
            seen_titles.setdefault(s["title"], k)

    def check_reasons(self, case, session, records, shown):
        """Each compaction's reason is the one the shell printed for it:
        the lines just before its 'compacting ...' or 'moving ...' line.
        Announcements are matched to steps by their input ids, in order
        (a trivial move keeps its ids: 0 moved to L4 and 0 compacted
        into L4 later are two announcements of ids that include 0)."""
        said = {}
        lines = session.text.splitlines()
        for i, line in enumerate(lines):
            if re.match(r"(compacting|moving) ", line):
                ids = frozenset(int(x) for x in re.findall(
                    r"\d+", " ".join(re.findall(r"\[([0-9, ]*)\]", line))))
                said.setdefault(ids, []).append(lines[max(0, i - 3):i])
        for k, (r, s) in enumerate(zip(records, shown)):
            if r.kind != "compaction":
                continue
            reason = (s["step"].get("reason") or "").split("\n")
            reason = [x for x in reason if not x.startswith("(A trivial")]
            printed = said.get(frozenset(r.removed), [])
            if not printed:
                self.fail(case, "step %d (%s): the session printed no "
                          "compaction of these inputs" % (k, r.line))
                continue
            before = printed.pop(0)
            if before[-len(reason):] != reason:
                self.fail(case, "step %d (%s): the page says it ran because "
                          "%r; the shell printed %r before it" %
                          (k, r.line, reason, before))

    def check_svg(self, case, where, svg, rects, tree, mark, marked):
        """rects (of svg) against tree (id -> row); those of class mark
        must be the ids marked."""
        ids = []
        for rect in rects:
            try:
                ids.append(int(rect["id"]))
            except (TypeError, ValueError):
                self.fail(case, "%s: #%s has a rect.sst with data-id %r" %
                          (where, svg, rect["id"]))
        if sorted(ids) != sorted(tree):
            self.fail(case, "%s: #%s shows SSTs %s, the tree is %s" %
                      (where, svg, sorted(ids), sorted(tree)))
        for rect, sid in zip(rects, ids):
            if sid in tree and rect["row"] != tree[sid]:
                self.fail(case, "%s: #%s puts SST %d in row %r, not %r" %
                          (where, svg, sid, rect["row"], tree[sid]))
        got = sorted(int(r["id"]) for r in rects
                     if mark in r["cls"] and str(r["id"]).isdigit())
        if got != sorted(marked):
            self.fail(case, "%s: #%s marks %s as %s, the step says %s" %
                      (where, svg, got, mark, sorted(marked)))

    def check_points(self, case, session, records, shown, background):
        """The dumps: at step 0, at each point's step, at the last."""
        after = [{int(r["id"]): r["row"] for r in s["after"]
                  if str(r["id"]).isdigit()} for s in shown]
        snapshot = records[0].row
        if after and after[0] != snapshot:
            self.fail(case, "step 0 shows %s, the MANIFEST's snapshot holds "
                      "%s" % (sorted(after[0].items()),
                              sorted(snapshot.items())))
        for n, (dump, recs) in enumerate(session.points):
            if dump is None:
                continue
            last = n == len(session.points) - 1
            hi = len(recs) - 1            # the step of its manifest's end
            if recs[0].line != records[0].line:
                self.fail(case, "dump %d: the MANIFEST was rewritten after "
                          "it (a new snapshot)" % (n + 1))
                continue
            if background and not last:
                # Threads mode: a compaction appends its MANIFEST record
                # before it installs the new tree, while the flush thread
                # goes on installing flushes, so a dump may show a tree that
                # no prefix of the MANIFEST holds (seen in CI: flush 7
                # installed, an earlier-recorded move not yet). The page's
                # every step is checked against the replay (check_steps);
                # in threads mode only the last dump, after
                # full_compaction, is compared.
                continue
            lo = hi
            window = [k for k in range(lo, hi + 1) if k < len(after)]
            if not any(after[k] == dump for k in window):
                self.fail(case, "dump %d lists %s; step%s %s show%s %s" % (
                    n + 1, sorted(dump.items()),
                    "s" if len(window) > 1 else "",
                    "..".join(str(k) for k in sorted({lo, hi})),
                    "" if len(window) > 1 else "s",
                    "; ".join(str(sorted(after[k].items()))
                              for k in window) or "nothing"))

    # --- as a person uses it --------------------------------------------

    def state(self):
        return self.b.evaluate(JS_STATE)

    def click(self, case, sel):
        at = self.b.evaluate(JS_CENTRE % js_str(sel))
        if at is None:
            self.fail(case, "no element %s to click" % sel)
            return False
        if not at["hits"]:
            self.fail(case, "the centre of %s is covered by %s" %
                      (sel, at["there"]))
        self.b.click(at["x"], at["y"])
        return True

    def expect(self, case, what, k, titles):
        st = self.state()
        if st["current"] != k or st["title"] != titles[k] or \
                st["slider"] != str(k):
            self.fail(case, "%s: at step %r, title %r, slider %r; expected "
                      "step %d, %r" % (what, st["current"], st["title"],
                                       st["slider"], k, titles[k]))

    def check_navigation(self, case, url, count, titles):
        last = count - 1
        b = self.b
        b.navigate("about:blank")
        b.navigate(url)
        self.expect(case, "opened", last, titles)
        b.evaluate("document.activeElement && document.activeElement.blur()")
        for key in ("ArrowRight", "End"):
            b.press_key(key)
            self.expect(case, "%s at the last step" % key, last, titles)
        self.click(case, "#lsm-next")
        self.expect(case, "next at the last step", last, titles)
        if count > 1:
            self.click(case, "#lsm-prev")
            self.expect(case, "prev from the last step", last - 1, titles)
            self.click(case, "#lsm-next")
            self.expect(case, "next from step %d" % (last - 1), last, titles)
        b.press_key("Home")
        self.expect(case, "Home", 0, titles)
        b.press_key("ArrowLeft")
        self.expect(case, "ArrowLeft at step 0", 0, titles)
        self.click(case, "#lsm-prev")
        self.expect(case, "prev at step 0", 0, titles)
        if count > 1:
            self.click(case, "#lsm-next")
            self.expect(case, "next from step 0", 1, titles)
            b.press_key("ArrowLeft")
            self.expect(case, "ArrowLeft from step 1", 0, titles)
            b.press_key("ArrowRight")
            self.expect(case, "ArrowRight from step 0", 1, titles)
        b.press_key("End")
        self.expect(case, "End", last, titles)
        mid = count // 2
        b.evaluate('(() => { const s = document.getElementById("lsm-slider");'
                   ' s.value = "%d"; s.dispatchEvent(new Event("input",'
                   ' {bubbles: true})); })()' % mid)
        self.expect(case, "slider set to %d" % mid, mid, titles)
        # The mouse on the slider's ends: its first and its last step.
        ends = b.evaluate('(() => { const s = document.getElementById('
                          '"lsm-slider"); s.scrollIntoView({block: "center",'
                          ' behavior: "instant"}); const r = '
                          's.getBoundingClientRect(); return [r.left + 1, '
                          'r.right - 1, r.top + r.height / 2]; })()')
        for x, k, end in ((ends[0], 0, "left"), (ends[1], last, "right")):
            b.click(x, ends[2])
            self.expect(case, "a click on the slider's %s end" % end, k,
                        titles)
        b.evaluate("document.activeElement && document.activeElement.blur()")
        b.evaluate("lsmHistory.go(%d)" % mid)
        info = b.evaluate('(() => { const s = document.getElementById('
                          '"lsm-slider"); return s && [s.type, s.min, s.max];'
                          ' })()')
        if info != ["range", "0", str(last)]:
            self.fail(case, "#lsm-slider (type, min, max) is %r, not "
                      "['range', '0', %r]" % (info, str(last)))
        if 0 < mid < last:
            # A person who dragged the slider then presses an arrow key:
            # one step, however many listeners hear it.
            b.evaluate('document.getElementById("lsm-slider").focus()')
            b.press_key("ArrowRight")
            self.expect(case, "ArrowRight with the slider focused, from "
                        "step %d" % mid, mid + 1, titles)
            b.press_key("ArrowLeft")
            self.expect(case, "ArrowLeft with the slider focused, from "
                        "step %d" % (mid + 1), mid, titles)
        clamped = b.evaluate("(() => { const H = lsmHistory; H.go(-3); "
                             "const a = H.current; H.go(H.count + 3); "
                             "return [a, H.current]; })()")
        if clamped != [0, last]:
            self.fail(case, "go(-3), go(count+3) left current at %r, not "
                      "[0, %d]" % (clamped, last))
        for k in sorted({0, mid}):
            b.navigate("about:blank")
            b.navigate("%s#step=%d" % (url, k))
            self.expect(case, "opened with #step=%d" % k, k, titles)

    def check_tip_text(self, case, where, sid, tip):
        if not tip or not tip["shown"]:
            self.fail(case, "%s: #lsm-tip is not shown (%r)" % (where, tip))
            return
        text = tip["text"]
        if not tip["inside"]:
            self.fail(case, "%s: the tip (left, top, right, bottom %s) is "
                      "not all inside the %dx%d window: %r" %
                      (where, tip["box"], tip["window"][0],
                       tip["window"][1], text))
        named = r"(?i)\b(sst|id)\W{0,3}%d(?![\d.])|(?<![\d.])%d\.sst\b"
        if not re.search(named % (sid, sid), text):
            self.fail(case, "%s: the tip does not name SST %d: %r" %
                      (where, sid, text))
        size, entries, first, last = self.meta.get(sid, (None,) * 4)
        if size is not None and not size_shown(text, size):
            self.fail(case, "%s: the tip shows no size of %d B: %r" %
                      (where, size, text))
        # The count where a dump -v listed the SST; else just the word
        # (a page may not know the entries of an SST long gone).
        m = re.search(r"([\d,]+)\s+entries", text)
        if entries is not None and \
                (not m or int(m.group(1).replace(",", "")) != entries):
            self.fail(case, "%s: the tip does not say %d entries: %r" %
                      (where, entries, text))
        elif "entries" not in text:
            self.fail(case, "%s: the tip does not say its entries: %r" %
                      (where, text))
        for key in (first, last):
            if key is not None and not re.search(
                    r"(?<![\w.])%s(?![\w.])" % re.escape(key), text):
                self.fail(case, "%s: the tip lacks key %s of the range "
                          "%s..%s: %r" % (where, key, first, last, text))

    def check_tips(self, case, url, session, count, background):
        """Hover every SST of both pictures at step 0, at the dump points'
        steps and at the last step; a click and a tap on one."""
        b = self.b
        b.navigate("about:blank")
        b.navigate(url)
        tip = b.evaluate(JS_TIP)
        if tip is None:
            self.fail(case, "no #lsm-tip")
            return
        if tip["shown"]:
            self.fail(case, "#lsm-tip is shown before any hover: %r" %
                      tip["text"])
        steps = {0, count - 1}
        if not background:
            steps.update(len(recs) - 1 for _, recs in session.points)
        clicked = False
        for k in sorted(s for s in steps if s < count):
            b.evaluate("lsmHistory.go(%d)" % k)
            for svg in ("lsm-before", "lsm-after"):
                ids = b.evaluate(
                    '[...document.querySelectorAll("svg#%s rect.sst")]'
                    '.map(r => +r.getAttribute("data-id"))' % svg)
                for sid in ids:
                    where = "step %d, hovering SST %d in #%s" % (k, sid, svg)
                    at = b.evaluate(JS_CENTRE % js_str(sst_sel(svg, sid)))
                    b.mouse("mouseMoved", at["x"], at["y"])
                    tip = b.evaluate(JS_TIP)
                    if not tip or not tip["shown"] or \
                            not re.search(r"(?<![\d.])%d(?![\d.])" % sid,
                                          tip["text"]):
                        where += " (%.1fx%.1f px; at its centre: %s)" % (
                            at["w"], at["h"], at["there"])
                    self.check_tip_text(case, where, sid, tip)
                if ids and not clicked:
                    clicked = True
                    self.check_click_and_tap(case, url, k, svg, ids[-1])
                    b.navigate("about:blank")
                    b.navigate(url)
                    b.evaluate("lsmHistory.go(%d)" % k)

    def check_click_and_tap(self, case, url, k, svg, sid):
        """A click event alone (no mouseover first), and a touch tap."""
        b = self.b
        b.navigate("about:blank")
        b.navigate("%s#step=%d" % (url, k))
        b.evaluate('(() => { const r = document.querySelector(%s); '
                   'const c = r.getBoundingClientRect(); '
                   'r.dispatchEvent(new MouseEvent("click", {bubbles: true, '
                   'cancelable: true, view: window, clientX: c.left + '
                   'c.width / 2, clientY: c.top + c.height / 2})); })()'
                   % js_str(sst_sel(svg, sid)))
        self.check_tip_text(case, "step %d, a click event on SST %d in #%s" %
                            (k, sid, svg), sid, b.evaluate(JS_TIP))
        b.navigate("about:blank")
        b.navigate("%s#step=%d" % (url, k))
        at = b.evaluate(JS_CENTRE % js_str(sst_sel(svg, sid)))
        b.page_send("Emulation.setTouchEmulationEnabled",
                    {"enabled": True, "maxTouchPoints": 1})
        try:
            point = [{"x": at["x"], "y": at["y"]}]
            b.page_send("Input.dispatchTouchEvent",
                        {"type": "touchStart", "touchPoints": point})
            b.page_send("Input.dispatchTouchEvent",
                        {"type": "touchEnd", "touchPoints": []})
            tip = wait_tip(b)
        finally:
            b.page_send("Emulation.setTouchEmulationEnabled",
                        {"enabled": False})
        self.check_tip_text(case, "step %d, a tap on SST %d in #%s" %
                            (k, sid, svg), sid, tip)

    def check_quiet(self, case, html, since):
        """No request but the page itself; nothing on the console."""
        page = pathlib.Path(html).as_uri()
        if self.b.proc is not None and self.b.proc.poll() is None:
            try:
                self.b.pump(0.1)    # what a timer printed after the last step
            except CDPError:
                pass
        for ev in self.b.events[since:]:
            if ev.get("method") == "Network.requestWillBeSent":
                u = ev["params"]["request"]["url"]
                if u.split("#")[0] not in (page, "about:blank") and \
                        not u.startswith("data:"):
                    self.fail(case, "the page requested %s" % u)
        saved, self.b.events = self.b.events, self.b.events[since:]
        try:
            lines = self.b.console_messages()
        finally:
            self.b.events = saved
        for line in sorted(set(lines), key=lines.index):
            n = lines.count(line)
            self.fail(case, "the console got %s%s" %
                      (line, " (%d times)" % n if n > 1 else ""))


def wait_tip(b, seconds=2.0):
    """#lsm-tip once shown (a tap's click comes a moment after the touch),
    or as it is after seconds."""
    deadline = time.monotonic() + seconds
    while True:
        tip = b.evaluate(JS_TIP)
        if (tip and tip["shown"]) or time.monotonic() > deadline:
            return tip
        time.sleep(0.02)


def size_shown(text, size):
    """Whether text gives size (bytes) as '5638 B', '5.5 KB', '5.6 kB',
    '5.51 KiB'... (to the digits it shows, in 1000s or 1024s)."""
    for num, unit in re.findall(r"(\d[\d,]*(?:\.\d+)?)\s*"
                                r"(B|bytes|[kK]i?B|Mi?B)\b", text):
        value = float(num.replace(",", ""))
        decimals = len(num.split(".")[1]) if "." in num else 0
        if unit in ("B", "bytes"):
            if value == size:
                return True
            continue
        power = 1 if unit[0] in "kK" else 2
        for base in (1000, 1024):
            scaled = size / base ** power
            if abs(scaled - value) <= 0.5 * 10 ** -decimals + 1e-9:
                return True
    return False


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: draw_html_check.py DIR CASE...\n")
        return 2
    dirname = os.path.abspath(argv[1])
    exe = find_chromium()
    if not exe:
        print("draw_html_check: no Chromium (set LSM_CHROMIUM)")
        return 1
    # meson ends a test that runs too long with SIGTERM: stop the browser
    # (in a process group of its own) on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    try:
        browser = Browser(exe).start()
    except CDPError as e:
        print("draw_html_check: cannot start %s: %s" % (exe, e))
        return 1
    checker = Checker(browser)
    try:
        for case in argv[2:]:
            t = time.monotonic()
            try:
                checker.check_case(dirname, case)
            except CDPError as e:
                # A page that hangs would make every later case wait out
                # its timeouts too: the next case gets a new browser.
                checker.fail(case, "the browser: %s" % e)
                browser.stop()
                try:
                    browser = checker.b = Browser(exe).start()
                except CDPError as e:
                    checker.fail(case, "cannot start %s again: %s" % (exe, e))
                    break
            print("draw_html_check: %s: checked in %.1f s" %
                  (case, time.monotonic() - t))
    finally:
        browser.stop()
    for p in checker.problems:
        print("draw_html_check: %s" % p)
    print("draw_html_check: %d cases, %d problems, %.1f s" %
          (len(argv) - 2, len(checker.problems), time.monotonic() - started))
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
