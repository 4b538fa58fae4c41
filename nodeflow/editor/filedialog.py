"""The editor's file dialog: pick or name a file (Open, Save as, a node's audio file), or pick a folder
(a local checkpoint, a tool's).

One window serves every dialog.  What it lists, and how, is :mod:`.dirlist`; this module is the window:

- the folder shown, in a box that takes a typed path (Enter goes there), *Up*, *Home* and *New folder*;
- its folders and files in a table: folders first, names A to Z as people read them (``take2`` before
  ``take10``), sizes in B/kB/MB and the time each was changed; a click on a column's header sorts by it;
- a click on a file puts its name in the *Name* box; a double-click opens a folder, or takes a file;
- the *Name* box has the keyboard as the dialog opens (what is typed at once goes into it), takes a
  name, a path relative to the folder shown or a whole one (``~/songs/take``), and Enter is OK; a
  folder's name opens that folder;
- the arrow keys move through the list, Enter is OK, Escape is Cancel;
- the type box: every type the field reads at once, all files, or each type alone.

Dear ImGui's own dialog (which dearpygui bundles) never gave its name box the keyboard, sorted Z to A,
and wrote sizes in French units: this replaces it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import items
from .dirlist import Entry, Filter, filters, human_size, listing, ordered, typed_path, when
from .fitting import room
from .keyorder import hold_until

if TYPE_CHECKING:
    from .app import App

__all__ = ["FileDialog", "TAG", "MOST_ROWS"]

TAG = "filedialog"
MOST_ROWS = 2000        # rows listed at most (a folder of 50 000 takes: type a name, or a type)
_COLUMNS = ("name", "size", "modified")
_WARN = (255, 170, 80)
_LIT = (66, 110, 170, 170)     # the row chosen
_ENTER = (257, 335)            # GLFW's Enter and keypad Enter


class FileDialog:
    """The one file dialog (its window ``filedialog``, hidden until :meth:`open`)."""

    def __init__(self, app: App):
        self.app, self.dpg = app, app.dpg
        self.folder = Path.cwd()
        self.folders_only = False
        self.filters: tuple[Filter, ...] = (Filter("All files"),)
        self.filter = self.filters[0]
        self.entries: list[Entry] = []
        self.selected: int | None = None
        self.sort: tuple[str, bool] = ("name", False)
        self.default_name = ""
        self.existing = False               # a file that is there is chosen (Open, an input's file)
        self._lit_folder: tuple[str, str] | None = None    # a folder's row lit, and what the Name box held then
        self._done: Callable[[str], object] | None = None
        self._show: tuple[int, dict[str, Any]] | None = None    # the frame it shows from, and how (see tick)
        self._typing = False                # the Name box had the keyboard at the last frame
        self._answering = False             # Enter was pressed in it, and OK has not answered yet (see watch)
        self._build()

    def _build(self) -> None:
        dpg = self.dpg
        with dpg.window(label="Open", tag=TAG, show=False, modal=True, no_saved_settings=True, no_collapse=True,
                        on_close=lambda: self.cancel()):
            with dpg.group(horizontal=True):
                dpg.add_button(label="Up", tag=f"{TAG}::up", callback=lambda: self.up(), width=40)
                dpg.add_button(label="Home", tag=f"{TAG}::home", callback=lambda: self.go(Path.home()), width=50)
                dpg.add_button(label="New folder", tag=f"{TAG}::new", callback=lambda: self.new_folder(), width=90)
                dpg.add_input_text(tag=f"{TAG}::folder", width=-1, on_enter=True,
                                   callback=lambda s, a: self.go(typed_path(self.folder, str(a))))
                dpg.add_input_text(tag=f"{TAG}::newname", width=-1, show=False,
                                   hint="the new folder's name, then Enter (Escape: no folder)")
            with dpg.group(horizontal=True, tag=f"{TAG}::namerow"):
                dpg.add_text("Name", tag=f"{TAG}::namelabel")
                self._name_box("")
                dpg.add_combo([], tag=f"{TAG}::type", width=-1, callback=lambda s, a: self._typed(str(a)))
            with dpg.group(horizontal=True):
                dpg.add_button(label="OK", tag=f"{TAG}::ok", width=80, callback=lambda: self.ok())
                dpg.add_button(label="Cancel", tag=f"{TAG}::cancel", width=80, callback=lambda: self.cancel())
                dpg.add_text("", tag=f"{TAG}::said")
        self._table()
        with dpg.item_handler_registry(tag=f"{TAG}::rows"):
            dpg.add_item_double_clicked_handler(button=dpg.mvMouseButton_Left,
                                                callback=lambda s, a: self._double(a[1] if a else None))

    def _table(self) -> None:
        """The list, made anew on each open, by name: Dear ImGui keeps a table's sort arrow while it is
        hidden, and it could point at another column than the rows' order (QA119)."""
        dpg, table = self.dpg, f"{TAG}::list"
        items.delete(table)
        self.sort = ("name", False)
        with dpg.table(tag=table, header_row=True, sortable=True, callback=self._sorted, clipper=True,
                       scrollY=True, freeze_rows=1, height=-78, policy=dpg.mvTable_SizingStretchProp,
                       row_background=True, borders_outerH=True, parent=TAG, before=f"{TAG}::namerow"):
            for column, weight in zip(_COLUMNS, (5.0, 1.0, 1.6)):
                dpg.add_table_column(label=column.capitalize(), tag=f"{TAG}::col::{column}",
                                     init_width_or_weight=weight, default_sort=column == "name")

    def _name_box(self, text: str) -> None:
        """The *Name* box holding ``text``, made anew: Dear ImGui keeps what a box that has the keyboard
        holds, whatever is set (Enter in it: see :meth:`key`)."""
        box, kind = f"{TAG}::name", f"{TAG}::type"
        items.delete(box)
        self.dpg.add_input_text(tag=box, default_value=text, width=-1 if self.folders_only else -190,
                                parent=f"{TAG}::namerow", before=kind if items.exists(kind) else 0)

    def set_name(self, text: str) -> None:
        """Put ``text`` in the *Name* box, which keeps the keyboard."""
        if self.name != text:
            self._name_box(text)
            self.focus_name()

    # ------------------------------------------------------------------ open, close
    def open(self, label: str, start: Path, done: Callable[[str], object], *, name: str = "",
             types: tuple[Filter, ...] = (), folders: bool = False, existing: bool = False) -> None:
        """Show the dialog titled ``label`` on the folder ``start`` (the nearest folder that is there),
        ``name`` in its *Name* box; ``done(path)`` gets the path chosen (OK, Enter, a double-click).
        ``types``: the type box's choices (see :func:`.dirlist.filters`), the first one shown;
        ``folders``: a folder is chosen, and only folders are listed; ``existing``: a file that is
        there is chosen (a name typed that is not there is said, the dialog stays).  It shows from the
        next frame (see :meth:`tick`); what is typed meanwhile waits for its *Name* box."""
        dpg = self.dpg
        self._done, self.folders_only, self.default_name, self.existing = done, folders, name, existing
        self.filters = types or filters("", ())
        self.filter = self.filters[0]
        start = Path(start).expanduser()
        while not start.is_dir() and start != start.parent:
            start = start.parent
        self._table()
        w, h = room(dpg)
        w, h = min(760, w), min(460, h)
        vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        dpg.configure_item(f"{TAG}::namelabel", default_value="Folder" if folders else "Name")
        dpg.configure_item(f"{TAG}::type", items=[f.label for f in self.filters], default_value=self.filter.label,
                           show=not folders)
        self.go(start, quiet=True)
        self._name_box(name)
        self._show = (self.app.frame_count + 1, dict(label=label, width=w, height=h,
                                                     pos=[max(0, (vw - w) // 2), max(0, (vh - h) // 2)]))
        hold_until(lambda: self.shown and items.active(f"{TAG}::name"))

    def tick(self) -> None:
        """Per frame: show the dialog opened on an earlier frame.  Not on the frame it is opened: Dear
        ImGui opens no modal window in the frame another one (the box that asks to save first) closes
        (QA119: after *Save* or *Don't save* no dialog came)."""
        if self._show is not None and self.app.frame_count >= self._show[0]:
            how, self._show = self._show[1], None
            self.dpg.configure_item(TAG, show=True, **how)
            self.focus_name()
        self._typing = self.shown and items.active(f"{TAG}::name")

    def watch(self, key: int, action: int) -> None:
        """Each key as it goes to Dear ImGui (see ``KeyOrder.watch``): Enter in the *Name* box holds
        what follows until OK has answered and, where the dialog stays (a name refused), the box has
        the keyboard again.  Dear ImGui's Enter takes the keyboard from the box: a name typed at once
        after a refused one went nowhere until it was given back ("good" came out "od", QA120 D1)."""
        if key in _ENTER and action == 1 and self._typing:
            self._answering = True
            box = f"{TAG}::name"
            hold_until(lambda: not self._answering and (
                not self.shown or items.active(box)))

    def focus_name(self, box: str = f"{TAG}::name") -> None:
        """Give the *Name* box (or ``box``) the keyboard; what is typed before it has it waits (see
        :mod:`.keyorder`)."""
        self.dpg.focus_item(TAG)
        self.dpg.focus_item(box)
        hold_until(lambda: items.active(box))

    @property
    def shown(self) -> bool:
        return items.shown(TAG)

    @property
    def name(self) -> str:
        """What the *Name* box holds."""
        return str(self.dpg.get_value(f"{TAG}::name") or "")

    def cancel(self) -> None:
        self._named()
        self._show = None
        self.dpg.configure_item(TAG, show=False)
        self._done = None

    # ------------------------------------------------------------------ the folder shown
    def go(self, folder: Path, quiet: bool = False) -> bool:
        """Show ``folder`` (False, and a line in the dialog, where it cannot be read)."""
        try:
            entries = listing(folder, self.filter, self.folders_only)
        except OSError as e:
            self.say(f"cannot open {folder}: {e.strerror or e}", True)
            return False
        other = folder != self.folder
        self.folder, self.entries, self.selected = folder, ordered(entries, *self.sort), None
        self._lit_folder = None
        self.dpg.set_value(f"{TAG}::folder", str(folder))
        self._rows()
        if other and (self.existing or self.folders_only) and self.shown:
            self.set_name("")        # a file's name from another folder names nothing here (QA119)
        if not quiet or len(entries) > MOST_ROWS:
            self.say(self._counted())
        else:
            self.say("")
        return True

    def new_folder(self) -> None:
        """*New folder*: a box for its name takes the folder box's place (Enter makes it, see :meth:`make`)."""
        dpg, box = self.dpg, f"{TAG}::newname"
        dpg.configure_item(f"{TAG}::folder", show=False)
        dpg.configure_item(box, show=True)
        dpg.set_value(box, "")
        self.focus_name(box)

    def _naming(self) -> bool:
        return items.shown(f"{TAG}::newname")

    def _named(self) -> None:
        """The new folder's name box closes; the folder box is back."""
        self.dpg.configure_item(f"{TAG}::newname", show=False)
        self.dpg.configure_item(f"{TAG}::folder", show=True)

    def make(self, name: str) -> bool:
        """Make the folder ``name`` in the folder shown and open it (False, and a line why, where it
        cannot be made: the name is empty, a path or taken; the disk refuses)."""
        name = name.strip()
        if not name:
            self.say("type the new folder's name, then Enter (Escape: no folder)", True)
            return False
        if name in (".", "..") or "/" in name or "\\" in name:
            self.say(f"no folder made: '{name}' is not a folder's name; type a name without / or \\", True)
            return False
        path = self.folder / name
        try:
            path.mkdir()
        except FileExistsError:
            self.say(f"no folder made: {path} already exists", True)
            return False
        except OSError as e:
            self.say(f"no folder made: {path}: {e.strerror or e}", True)
            return False
        self._named()
        self.go(path)
        self.say(f"made the folder {name}")
        self.focus_name()
        return True

    def escape(self) -> None:
        """Escape: the new folder's name box closes, else the dialog (Cancel)."""
        if self._naming():
            self._named()
            self.focus_name()
        else:
            self.cancel()

    def up(self) -> None:
        """The folder above, or the nearest above it that is there (the one shown may have gone)."""
        above = self.folder.parent
        while not above.is_dir() and above != above.parent:
            above = above.parent
        self.go(above)

    def _counted(self) -> str:
        n = len(self.entries)
        what = "folder" if self.folders_only else "item"
        more = f"; the first {MOST_ROWS} are listed: type a name" if n > MOST_ROWS else ""
        return f"{n} {what}{'' if n == 1 else 's'}{more}"

    def _rows(self) -> None:
        dpg = self.dpg
        table = f"{TAG}::list"
        dpg.delete_item(table, children_only=True, slot=1)
        for i, e in enumerate(self.entries[:MOST_ROWS]):
            with dpg.table_row(parent=table):
                dpg.add_selectable(label=e.name + ("/" if e.folder else ""), tag=f"{TAG}::row::{i}",
                                   span_columns=True, user_data=i, callback=lambda s, a, u: self.select(u))
                dpg.add_text("" if e.folder else human_size(e.size), tag=f"{TAG}::size::{i}")
                dpg.add_text(when(e.mtime) if e.mtime else "")
            dpg.bind_item_handler_registry(f"{TAG}::row::{i}", f"{TAG}::rows")

    def _sorted(self, sender: Any, specs: Any) -> None:
        """A click on a column's header: sort by it (again: the other way)."""
        if not specs:
            return
        column, direction = specs[0]
        by = next((c for c in _COLUMNS if self.dpg.get_alias_id(f"{TAG}::col::{c}") == column), "name")
        self.sort = (by, direction < 0)
        chosen = self.entries[self.selected].name if self.selected is not None else None
        self.entries = ordered(self.entries, *self.sort)
        self._rows()
        if chosen is not None:
            self.select(next(i for i, e in enumerate(self.entries) if e.name == chosen))

    def _typed(self, label: str) -> None:
        """The type box: list the files of another type."""
        self.filter = next((f for f in self.filters if f.label == label), self.filters[0])
        self.go(self.folder, quiet=True)

    # ------------------------------------------------------------------ choosing
    def select(self, i: int | None) -> None:
        """Highlight row ``i``; a file's name (or in a folder dialog, a folder's) goes into the *Name* box."""
        dpg, table = self.dpg, f"{TAG}::list"
        if self.selected is not None:         # (a selectable in a table shows no value set: the row is lit)
            items.call(dpg.unhighlight_table_row, table, self.selected)
        self.selected, self._lit_folder = i, None
        if i is None:
            return
        items.call(dpg.highlight_table_row, table, i, _LIT)
        e = self.entries[i]
        if self.folders_only or not e.folder:
            self.set_name(e.name)
        self._lit_folder = (e.name, self.name) if e.folder and not self.folders_only else None

    def _double(self, row: Any) -> None:
        """A double-click on a row: into a folder; a file is taken."""
        i = items.call(self.dpg.get_item_user_data, row)
        if not isinstance(i, int) or i >= len(self.entries):
            return
        e = self.entries[i]
        if e.folder:
            self.go(self.folder / e.name)
        else:
            self._chosen(self.folder / e.name)

    def move(self, step: int) -> None:
        """The arrow keys: the next (``step=1``) or previous row."""
        n = min(len(self.entries), MOST_ROWS)
        if not n:
            return
        i = 0 if self.selected is None and step > 0 else n - 1 if self.selected is None \
            else max(0, min(n - 1, self.selected + step))
        self.select(i)
        self._scroll_to(i)

    def _scroll_to(self, i: int) -> None:
        """Scroll the list so that row ``i`` shows whole (the arrow keys went past the rows in view)."""
        dpg, table = self.dpg, f"{TAG}::list"
        top, foot = items.rect(f"{TAG}::up"), items.rect(f"{TAG}::namerow")
        if top is None or foot is None:
            return
        row = dpg.get_text_size("Ag")[1] + 4.0                  # a line and the cell's padding above and below
        view = foot[0][1] - top[1][1] - 8.0 - row               # the table's height, less its header
        scroll = dpg.get_y_scroll(table)
        if i * row < scroll:
            dpg.set_y_scroll(table, i * row)
        elif (i + 1) * row > scroll + view:
            dpg.set_y_scroll(table, (i + 1) * row - view)

    def ok(self) -> None:
        """OK, or Enter: the file named (a folder named: into it); in a folder dialog, the folder named,
        else the one shown.  A folder's row lit, the Name box as it was then: into that folder (QA120:
        Enter on a folder lit by the arrows took the name in the box)."""
        try:
            self._ok()
        finally:
            self._answering = False

    def _ok(self) -> None:
        if self._lit_folder is not None and self._lit_folder[1] == self.name:
            self.go(self.folder / self._lit_folder[0])
            return
        name = self.name.strip()
        path = typed_path(self.folder, name)
        if self.folders_only:
            if not path.is_dir():
                self.say(f"no folder {path}: pick one, or type its path", True)
                return
            self._chosen(path)
        elif not name:
            self.say("type a file name, or pick a file", True)
        elif path == self.folder:
            self.say(f"{path} is the folder shown: pick a file in it, or type a name", True)
        elif path.is_dir():
            if self.go(path) and not self.existing:
                self.set_name(self.default_name)     # (the box held the folder's name)
        elif self.existing and not path.exists():
            self.say(f"no file {path.name} in {path.parent}: pick one, or type its path", True)
        elif not path.parent.is_dir():
            self.say(f"the folder {path.parent} does not exist: pick another, or make it with New folder", True)
        else:
            self._chosen(path)

    def choose(self, path: str | Path) -> None:
        """Take ``path`` as the dialog's OK takes a file named (what scripted tests call)."""
        self._chosen(typed_path(self.folder, str(path)))

    def _chosen(self, path: Path) -> None:
        done = self._done
        self.cancel()
        if done is not None:
            done(str(path))

    def say(self, text: str, problem: bool = False) -> None:
        """A line at the dialog's foot (orange for a problem: the box typed in gets the keyboard back, to
        type another name)."""
        self.dpg.configure_item(f"{TAG}::said", default_value=text, color=_WARN if problem else (160, 160, 160))
        if problem and self.shown and self._naming():
            self.focus_name(f"{TAG}::newname")
        elif problem and self.shown and not items.active(f"{TAG}::name"):
            self._name_box(self.name)           # Enter or OK took the keyboard from it: given back made anew,
            self.focus_name()                   # its name selected as on opening (Ctrl+A did nothing in it else)

    def key(self, key: int) -> None:
        """A key pressed while the dialog shows: the arrows move through the list, Enter is OK (in the
        folder box: that folder; in a new folder's name box: that folder made).  Escape: see :meth:`escape`."""
        dpg = self.dpg
        if key in (dpg.mvKey_Down, dpg.mvKey_Up):
            self.move(1 if key == dpg.mvKey_Down else -1)
        elif key in (dpg.mvKey_Return, getattr(dpg, "mvKey_NumPadEnter", -1)):
            if self._naming():
                self.make(str(dpg.get_value(f"{TAG}::newname") or ""))
                return
            folder = items.state(f"{TAG}::folder")
            if not (folder.get("active") or folder.get("deactivated")):
                self.ok()
