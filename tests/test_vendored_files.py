"""The vendored front-end files are the pinned packages' files, byte for byte."""

from tools.vendor_frontend import FILES, ROOT, main, sha256_of


def test_committed_copies_match_their_pinned_digests() -> None:
    assert main(["--check"]) == 0


def test_every_vendored_file_is_listed_with_its_licence() -> None:
    listing = (ROOT / "libs/consolekit/src/consolekit/static/vendor/LICENSES.md").read_text()
    for file in FILES:
        assert file.destination.name in listing
        assert f"| {file.version} | {file.licence}" in listing
        assert sha256_of(file.destination.read_bytes()) == file.sha256
