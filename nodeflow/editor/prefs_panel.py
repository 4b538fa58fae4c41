"""The Preferences window (*Edit > Preferences...*) and the app's theme.

The window sets the playback latency (stored by :class:`~.prefs.Preferences`) and says what the last
preview's buffer was and how many dropouts it had.  :func:`app_theme` is the theme bound to the whole
app: imnodes reads the canvas grid's spacing from it, so the canvas' zoom binds one per scale.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .prefs import LATENCY_CHOICES, latency_label, latency_value

if TYPE_CHECKING:
    from .app import App

__all__ = ["PrefsPanel", "app_theme"]

_THEMES: dict[float, int] = {}      # per zoom scale, made once


def app_theme(dpg: Any, scale: float) -> None:
    """Bind the app's theme, with the canvas' grid drawn at the zoom ``scale``."""
    if scale not in _THEMES or not dpg.does_item_exist(_THEMES[scale]):
        with dpg.theme() as th:
            with dpg.theme_component(dpg.mvAll):   # a slider's handle as a thin faint line: digits read over it
                dpg.add_theme_style(dpg.mvStyleVar_GrabMinSize, 3, category=dpg.mvThemeCat_Core)
                dpg.add_theme_color(dpg.mvThemeCol_SliderGrab, (120, 170, 240, 110), category=dpg.mvThemeCat_Core)
                dpg.add_theme_style(dpg.mvNodeStyleVar_GridSpacing, 24.0 * scale, category=dpg.mvThemeCat_Nodes)
                # a child window shows its parent's background (the same colour): the node editor's
                # child was filled and then covered by the canvas, a whole extra layer per frame
                # for a software rasterizer (about a fifth of an empty canvas' frame)
                dpg.add_theme_color(dpg.mvThemeCol_ChildBg, (0, 0, 0, 0), category=dpg.mvThemeCat_Core)
            with dpg.theme_component(dpg.mvTreeNode):  # a node's parameter group: ImGui lights a header
                for col in (dpg.mvThemeCol_Header, dpg.mvThemeCol_HeaderHovered,   # to the canvas' edge,
                            dpg.mvThemeCol_HeaderActive):                          # past the node: none
                    dpg.add_theme_color(col, (0, 0, 0, 0), category=dpg.mvThemeCat_Core)
            with dpg.theme_component(dpg.mvTooltip):   # in a node a tooltip had no padding: text on its
                dpg.add_theme_style(dpg.mvStyleVar_WindowPadding, 8, 6,      # edges, the last line cut
                                    category=dpg.mvThemeCat_Core)
        _THEMES[scale] = th
    dpg.bind_theme(_THEMES[scale])


class PrefsPanel:
    """The Preferences window of ``app`` (its ``prefs`` hold the values)."""

    def __init__(self, app: App):
        self.app, self.dpg = app, app.dpg
        dpg = self.dpg
        app.fitter.add("prefs", 470, 310)
        with dpg.window(label="Preferences", tag="prefs", show=False, no_saved_settings=True, width=470,
                        height=310, pos=[380, 120], no_collapse=True):
            dpg.add_text("Playback latency (the sound buffer of previews)", color=(200, 200, 255))
            dpg.add_radio_button([label for _, label in LATENCY_CHOICES], tag="prefs::latency",
                                 default_value=latency_label(app.prefs.playback_latency),
                                 callback=lambda s, a: self.set_latency(a))
            dpg.add_text("Longer: steadier sound on a busy machine; the first sound does not wait for it.",
                         wrap=450, color=(160, 160, 170))
            dpg.add_text("", tag="prefs::now", wrap=450)

    def open(self) -> None:
        self._now()
        self.dpg.configure_item("prefs", show=True)
        self.app.fitter.fit("prefs")
        self.dpg.focus_item("prefs")

    def set_latency(self, label: str) -> None:
        app = self.app
        value = latency_value(label)
        app.prefs.set("playback_latency", value)
        app.audition.latency = value
        app.say(f"playback latency: {label} (from the next preview)")
        self._now()

    def _now(self) -> None:
        """What the last preview had: its buffer and dropouts."""
        try:
            p = self.app.audition.player()
        except Exception:  # noqa: BLE001 - no sound module: nothing to show
            return
        info = p.stream_info
        text = ("last preview: " + f"{info['latency_s'] * 1e3:.0f} ms buffer, {info['underflows']} dropout(s)"
                + (" (grew after a dropout)" if info.get("grown") else "")) if info else "no preview played yet"
        self.dpg.set_value("prefs::now", text)
