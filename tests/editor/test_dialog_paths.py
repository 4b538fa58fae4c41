"""The file dialog's File Name box takes a whole path (issue: typing /tmp/x/g2/song saved
<start folder>/tmp/x/g2/song.msgpack, making the folders on the way)."""
from __future__ import annotations


def test_a_whole_path_typed_in_the_file_dialog_is_used_as_is(editor):
    (editor.tmp / "g2").mkdir()
    (editor.tmp / "home" / "songs").mkdir(parents=True)
    editor.env["HOME"] = str(editor.tmp / "home")
    st = editor.run("dialog_typed_path")
    assert st["absolute"] == {"status": f"saved {editor.tmp / 'g2' / 'song.msgpack'}", "error": False,
                              "path": str(editor.tmp / "g2" / "song.msgpack")}
    missing = editor.tmp / "nope" / "deeper"
    assert st["missing"] == {"said": f"the folder {missing} does not exist: pick another, or make it with New folder",
                             "shown": True, "path": str(editor.tmp / "g2" / "song.msgpack")}, st["missing"]
    assert st["open_missing"] == {"said": f"no file nosuch.msgpack in {editor.tmp / 'g2'}: pick one, or type its path",
                                  "shown": True}, st["open_missing"]
    assert st["home"]["path"] == str(editor.tmp / "home" / "songs" / "take.msgpack"), st["home"]
    assert st["bundle"]["status"].startswith(f"wrote the bundle {editor.tmp / 'g2' / 'pack.acbundle'}"), st["bundle"]
    assert st["open"]["status"].startswith("opened song.msgpack") and st["open"]["path"] == str(
        editor.tmp / "g2" / "song.msgpack"), st["open"]
    assert st["files"] == ["g2", "g2/pack.acbundle", "g2/song.msgpack", "home", "home/songs",
                           "home/songs/take.msgpack"], "nothing made under the start folder, no folder made"


def test_the_editor_asks_before_a_dialog_replaces_a_file(editor):
    """Save as onto an existing file replaced it without a word (a user's notes.msgpack, a bundle
    made yesterday); now the editor asks, as desktop apps do."""
    keep = editor.tmp / "keep.msgpack"
    keep.write_bytes(b"mine, not a graph")
    st = editor.run("replace_ask")
    mine = b"mine".hex()
    assert st["asked"] == {"asks": f"{keep} already exists. Replace it?", "status": None, "path": None, "keep": mine}
    assert st["cancel"] == {"asks": None, "status": None, "path": None, "keep": mine}
    assert st["replace"]["status"] == f"saved {keep}" and st["replace"]["path"] == str(keep), st["replace"]
    assert st["replace"]["keep"] != mine
    assert st["own"]["asks"] is None and st["own"]["status"] == f"saved {keep}", st["own"]
    pack = editor.tmp / "pack.acbundle"
    assert st["bundle_new"]["asks"] is None and st["bundle_new"]["status"].startswith(f"wrote the bundle {pack}")
    assert st["bundle_again"]["asks"] == f"{pack} already exists. Replace it?", st["bundle_again"]
    assert st["escape"]["asks"] is None and st["escape"]["status"] is None and st["bundle_kept"]
