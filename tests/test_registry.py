import pytest

from hmr_bench.registry import Registry, UnknownNameError


def test_register_build_and_errors():
    reg = Registry("fusion")

    @reg.register("raf-official")
    def raf(dim=3):
        return ("raf", dim)

    assert reg.build("raf-official", dim=5) == ("raf", 5)
    assert "raf-official" in reg and reg.names() == ["raf-official"]
    with pytest.raises(ValueError, match="already registered"):
        reg.register("raf-official")(lambda: None)
    with pytest.raises(UnknownNameError) as e:
        reg.get("raf-oficial")
    assert str(e.value) == ("unknown fusion 'raf-oficial': registered fusions are raf-official; "
                            "did you mean 'raf-official'?")
