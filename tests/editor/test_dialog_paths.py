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
    assert st["missing"] == {"status": f"not saved: the folder {missing} does not exist; create it first or pick "
                                       "another", "error": True, "path": str(editor.tmp / "g2" / "song.msgpack")}
    assert st["home"]["path"] == str(editor.tmp / "home" / "songs" / "take.msgpack"), st["home"]
    assert st["bundle"]["status"].startswith(f"wrote the bundle {editor.tmp / 'g2' / 'pack.acbundle'}"), st["bundle"]
    assert st["open"]["status"].startswith("opened song.msgpack") and st["open"]["path"] == str(
        editor.tmp / "g2" / "song.msgpack"), st["open"]
    assert st["files"] == ["g2", "g2/pack.acbundle", "g2/song.msgpack", "home", "home/songs",
                           "home/songs/take.msgpack"], "nothing made under the start folder, no folder made"
