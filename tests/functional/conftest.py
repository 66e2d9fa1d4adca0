"""Shared fixtures of the functional tests: the built artifacts and their extracted trees."""

import tarfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from lab import artifacts


@pytest.fixture(scope="session")
def artifact_manifest():
    """The artifact manifest, building the artifacts first if the cache lacks them or fails to verify.

    Uses the default cache (``$KAFKASALT_CACHE`` or ``~/.cache/kafkasalt``), shared with the lab.
    """
    return artifacts.build_all()


@pytest.fixture(scope="session")
def extract_artifact(artifact_manifest, tmp_path_factory):
    """Factory: ``extract_artifact("kafka")`` -> Path of the tarball's top dir, extracted once per session.

    The tarball's sha512 is checked against the manifest first, as the states do with ``source_hash``.
    """
    extracted = {}

    def extract(name):
        if name in extracted:
            return extracted[name]
        entry = artifact_manifest[name]
        if not entry.get("top_dir"):
            raise ValueError(f"artifact {name!r} is not a tarball")
        tarball = Path(unquote(urlparse(entry["source"]).path))
        expected = entry["source_hash"].partition("sha512=")[2]
        actual = artifacts.sha512_file(tarball)
        assert actual == expected, f"{tarball}: sha512 {actual} does not match the manifest's {expected}"
        target = tmp_path_factory.mktemp(f"{name}-tree")
        with tarfile.open(tarball) as archive:
            archive.extractall(target, filter="data")
        extracted[name] = target / entry["top_dir"]
        return extracted[name]

    return extract
