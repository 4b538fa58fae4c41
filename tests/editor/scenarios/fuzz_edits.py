"""A seeded random session of real clicks, drags and shortcuts: add, edit a slider, select, delete,
undo, redo, copy, paste, duplicate, connect, move, type in a box.  After every action the view must
match the graph and no internal error may have been caught; at the end the whole history is undone
back to the opened graph and redone to the last state.

Environment: ``AUDIOCHAIN_FUZZ_SEED`` (default 14), ``AUDIOCHAIN_FUZZ_STEPS`` (default 70).
"""
import os
import random
import subprocess
import time
from collections import Counter

CANVAS = ((175, 40), (1090, 740))      # where clicks on nodes land (left of the minimap, above Run)
ADD = ("dsp.gain", "dsp.fade", "dsp.mix", "dsp.trim", "io.export")
MAX_NODES = 9


def canonical(graph):
    """What the user edits: nodes (type, params), links, positions."""
    pos = graph.editor.get("positions", {})
    return {"order": list(graph.nodes), "nodes": {n: [i.type, {k: repr(v) for k, v in i.params.items()}]
                                                  for n, i in graph.nodes.items()},
            "links": sorted(str(l) for l in graph.links), "positions": {n: list(map(float, p)) for n, p in pos.items()
                                                                       if n in graph.nodes}}


def view_problems(app):
    """How the canvas differs from the graph (empty when they agree)."""
    items = __import__("nodeflow.editor.items", fromlist=["x"])
    g, v, bad = app.doc.graph, app.view, []
    if set(v.nodes) != set(g.nodes):
        bad.append(f"nodes shown {sorted(v.nodes)} != graph {sorted(g.nodes)}")
    if set(v.links) != set(g.links):
        bad.append(f"links shown {sorted(map(str, v.links))} != graph {sorted(map(str, g.links))}")
    bad += [f"node {n} has no item" for n in v.nodes if not items.exists(v.node_tag(n))]
    bad += [f"link {l} has no item" for l, i in v.links.items() if not items.exists(i)]
    bad += [f"link {l} names a missing node" for l in g.links if l.src not in g.nodes or l.dst not in g.nodes]
    pos = g.editor.get("positions", {})
    bad += [f"node {n} has no position" for n in g.nodes if n not in pos]
    return bad


def main(app, drv):
    dpg = app.dpg
    items = __import__("nodeflow.editor.items", fromlist=["x"])
    seed = int(os.environ.get("AUDIOCHAIN_FUZZ_SEED", "14"))
    steps = int(os.environ.get("AUDIOCHAIN_FUZZ_STEPS", "70"))
    rnd = random.Random(seed)
    drv.frames(8)
    drv.window_origin()
    start = canonical(app.doc.graph)
    done, failures, stale_focus = Counter(), [], 0
    t0 = time.monotonic()

    def xdo(*args, frames=1):           # one xdotool process per gesture step: fast enough for ~70 actions a run
        subprocess.run(["xdotool", *map(str, args)], check=True)
        drv.frames(frames)

    def click(p):
        xdo("mousemove", *drv.screen(p), "mousedown", 1)
        xdo("mouseup", 1, frames=2)

    def drag(a, b, steps=4):
        xdo("mousemove", *drv.screen(a), "mousedown", 1)
        for i in range(1, steps + 1):
            xdo("mousemove", *drv.screen((a[0] + (b[0] - a[0]) * i / steps, a[1] + (b[1] - a[1]) * i / steps)))
        xdo("mouseup", 1, frames=3)

    def key(combo):
        xdo("key", "--clearmodifiers", combo, frames=3)

    def on_canvas(r):
        (x0, y0), (x1, y1) = r
        return CANVAS[0][0] < x0 and x1 < CANVAS[1][0] and CANVAS[0][1] < y0 and y0 + 30 < CANVAS[1][1]

    def visible_nodes():
        return [n for n in app.view.nodes if (r := app.view.node_rect(n)) and on_canvas(r)]

    def widgets_of(nid):
        out = []
        for name in app.doc.graph.nodes[nid].params if nid in app.doc.graph.nodes else ():
            r = items.rect(f"param::{nid}::{name}")
            if r and items.shown(f"param::{nid}::{name}") and on_canvas(r):
                out.append((name, r))
        return out

    def click_title(nid):
        r = app.view.node_rect(nid)
        if r:
            click((r[0][0] + 30, r[0][1] + 7))

    def click_widget(nid, kind=None):
        ws = [(n, r) for n, r in widgets_of(nid)
              if kind is None or items.item_type(f"param::{nid}::{n}").endswith(kind)]
        if not ws:
            return False
        name, ((x0, y0), (x1, y1)) = rnd.choice(ws)
        click((x0 + (x1 - x0) * rnd.uniform(0.1, 0.9), (y0 + y1) / 2))
        return True

    for step in range(steps):
        nodes = visible_nodes()
        kinds = ["add", "slider", "select", "delete", "undo", "undo", "redo", "copy", "paste", "duplicate",
                 "connect", "connect", "move", "crash", "crash", "textbox", "empty", "box"]
        if len(app.doc.graph.nodes) >= MAX_NODES:
            kinds = [k for k in kinds if k not in ("add", "paste", "duplicate")] + ["delete", "undo"]
        if not nodes:
            kinds = ["add", "undo", "redo", "paste"]
        kind = rnd.choice(kinds)
        if kind == "add":
            tag = f"palette::{rnd.choice(ADD)}"
            if items.rect(tag):
                r = items.rect(tag)
                click(((r[0][0] + r[1][0]) / 2, (r[0][1] + r[1][1]) / 2))
        elif kind == "slider":
            click_widget(rnd.choice(nodes))
        elif kind == "select":
            click_title(rnd.choice(nodes))
        elif kind == "delete":
            if rnd.random() < 0.7:
                click_title(rnd.choice(nodes))
            key(rnd.choice(["Delete", "BackSpace"]))
        elif kind == "undo":
            key("ctrl+z")
        elif kind == "redo":
            key(rnd.choice(["ctrl+shift+z", "ctrl+y"]))
        elif kind == "copy":
            click_title(rnd.choice(nodes))
            key("ctrl+c")
        elif kind == "paste":
            key("ctrl+v")
        elif kind == "duplicate":
            click_title(rnd.choice(nodes))
            key("ctrl+d")
        elif kind == "connect":
            outs = [(n, p) for n in nodes for p in (app.doc.graph.spec(n).outputs if app.doc.graph.spec(n) else ())]
            ins = [(n, p) for n in nodes for p in (app.doc.graph.spec(n).inputs if app.doc.graph.spec(n) else ())]
            if outs and ins:
                (a, ap), (b, bp) = rnd.choice(outs), rnd.choice(ins)
                pa, pb = app.view.pin_pos(a, ap, "out"), app.view.pin_pos(b, bp, "in")
                if pa and pb:
                    drag(pa, pb, steps=5)
        elif kind == "move":
            r = app.view.node_rect(rnd.choice(nodes))
            if r:
                a = (r[0][0] + 30, r[0][1] + 7)
                drag(a, (a[0] + rnd.randint(-60, 60), a[1] + rnd.randint(-40, 40)), steps=3)
        elif kind == "crash":      # issue 14: focus a widget, select its node by the title, Delete, Ctrl+Z
            nid = rnd.choice(nodes)
            click_widget(nid)
            click_title(nid)
            key("Delete")
            stale_focus += not items.exists(dpg.get_focused_item()) and bool(dpg.get_focused_item())
            key("ctrl+z")
        elif kind == "textbox":    # focus a text box, type, then shortcuts go to the box
            if click_widget(rnd.choice(nodes), "mvInputText"):
                drv.type_text(rnd.choice(["a", "1", "x"]))
                key(rnd.choice(["Delete", "ctrl+z", "Escape"]))
        elif kind == "empty":
            click((rnd.randint(200, 1000), rnd.randint(600, 700)))
        elif kind == "box":
            x, y = rnd.randint(190, 700), rnd.randint(50, 400)
            drag((x, y), (x + rnd.randint(80, 400), y + rnd.randint(80, 300)), steps=5)
            if rnd.random() < 0.5:
                key("Delete")
        done[kind] += 1
        drv.frames(1)
        bad = view_problems(app) + [f"internal error: {e}" for e in app.errors]
        if bad:
            failures.append({"step": step, "action": kind, "problems": bad})
            break
    random_s = time.monotonic() - t0
    end = canonical(app.doc.graph)
    # the whole history back to the opened graph and forward again, the view in step at every stage
    undos = redos = 0
    while app.doc.history.undo_label and undos < 500:
        app.undo()
        drv.frames(1)
        undos += 1
        if view_problems(app):
            failures.append({"undo": undos, "problems": view_problems(app)})
            break
    at_start = canonical(app.doc.graph)
    while app.doc.history.redo_label and redos < undos:
        app.redo()
        drv.frames(1)
        redos += 1
        if view_problems(app):
            failures.append({"redo": redos, "problems": view_problems(app)})
            break
    at_end = canonical(app.doc.graph)
    drv.screenshot(os.environ["AUDIOCHAIN_TEST_TMP"] + "/fuzz.png")
    drv.dump({"seed": seed, "steps": steps, "done": dict(done), "failures": failures, "stale_focus": stale_focus,
              "undos": undos, "redos": redos, "undo_to_start": at_start == start, "redo_to_end": at_end == end,
              "start_nodes": sorted(start["nodes"]), "end_nodes": sorted(end["nodes"]),
              "at_start": at_start if at_start != start else None, "random_s": random_s,
              "errors": list(app.errors)})
