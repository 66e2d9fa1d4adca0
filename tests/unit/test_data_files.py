"""Data files are found in the package, or (formula installs) in the file roots."""

from kafkasalt.common import data


def test_package_data_first_then_file_roots(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "PACKAGE_DATA", tmp_path / "missing")
    monkeypatch.setattr(data, "_extra_roots", [])
    root = tmp_path / "formula"
    (root / "kafkasalt" / "data" / "kafka").mkdir(parents=True)
    (root / "kafkasalt" / "data" / "kafka" / "t.yml").write_text("configs: {}\n")
    assert not data.path("kafka", "t.yml").exists()
    data.add_file_roots({"base": [str(tmp_path / "salt"), str(root)]})
    data.add_file_roots({"base": [str(root)]})  # registering twice adds nothing
    assert data.path("kafka", "t.yml") == root / "kafkasalt" / "data" / "kafka" / "t.yml"
    assert len(data._extra_roots) == 2


def test_the_topic_config_table_is_found_in_the_checkout():
    from kafkasalt.kafka import topic_configs

    assert topic_configs.table()["retention.ms"]["type"] == "long"
