"""run.json's library versions are read from the installed dist-info folders, as pip wrote them."""

from importlib.metadata import version

from il6assay.record import versions


def test_library_versions_read_from_dist_info_names_equal_importlib_metadatas():
    versions._installed_versions.cache_clear()
    recorded = versions.library_versions()
    for name in versions.LIBRARIES:
        assert recorded[name] == version(name)


def test_a_library_not_installed_is_recorded_as_such(monkeypatch):
    versions._installed_versions.cache_clear()
    monkeypatch.setattr(versions, "LIBRARIES", (*versions.LIBRARIES, "no-such-library-il6"))
    try:
        assert dict(versions._installed_versions())["no-such-library-il6"] == "not installed"
    finally:
        versions._installed_versions.cache_clear()
