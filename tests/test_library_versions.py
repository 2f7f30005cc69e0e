"""run.json's library versions are read from the installed dist-info folders, as pip wrote them."""

from importlib.metadata import version

from il6assay.record import outputs


def test_library_versions_read_from_dist_info_names_equal_importlib_metadatas():
    outputs._installed_versions.cache_clear()
    recorded = outputs.library_versions()
    for name in outputs.LIBRARIES:
        assert recorded[name] == version(name)


def test_a_library_not_installed_is_recorded_as_such(monkeypatch):
    outputs._installed_versions.cache_clear()
    monkeypatch.setattr(outputs, "LIBRARIES", (*outputs.LIBRARIES, "no-such-library-il6"))
    try:
        assert dict(outputs._installed_versions())["no-such-library-il6"] == "not installed"
    finally:
        outputs._installed_versions.cache_clear()
