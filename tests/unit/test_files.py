"""kafkasalt.common.files.write_private: the mode from the start, atomic replacement."""

import os
import stat

from kafkasalt.common.files import write_private


def test_new_file_is_private_and_holds_the_text(tmp_path):
    path = tmp_path / "secret.pem"
    write_private(str(path), "key")
    assert path.read_text() == "key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not (tmp_path / "secret.pem.tmp").exists()


def test_replaces_an_existing_file_and_takes_the_given_mode(tmp_path):
    path = tmp_path / "server.properties.started"
    path.write_text("old")
    os.chmod(path, 0o644)
    previous = os.umask(0o022)  # the mode is given to open(), which the umask narrows
    try:
        write_private(str(path), "new", mode=0o640)
    finally:
        os.umask(previous)
    assert path.read_text() == "new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
