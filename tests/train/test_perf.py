"""train.perf: CPU bf16 detection from cpuinfo flags, the amp checks and autocast contexts, channels_last and
in-place compile in prepare_model (same outputs, same state_dict keys), threads."""

import pytest
import torch

from hmr_bench.config import apply_overrides
from hmr_bench.errors import InputError
from hmr_bench.profiles import profile_config
from hmr_bench.train import perf

AMX_CPU = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16\n\nprocessor\t: 1\n"
AVX2_CPU = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n"


def cfg_with(**train):
    return apply_overrides(profile_config("smoke"), {f"train.{k}": v for k, v in train.items()})


@pytest.fixture()
def cpuinfo(tmp_path, monkeypatch):
    """write(text): makes `text` the /proc/cpuinfo that perf reads."""
    def write(text: str):
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        monkeypatch.setattr(perf, "CPUINFO", path)
        monkeypatch.setattr(perf.platform, "machine", lambda: "x86_64")

    return write


def test_cpu_flags_read_from_cpuinfo(cpuinfo):
    cpuinfo(AMX_CPU)
    assert perf.cpu_flags() == {"fpu", "sse", "avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}
    assert perf.cpu_bf16_native() == (True, "flags amx_bf16, avx512_bf16")


def test_avx2_cpu_has_no_native_bf16(cpuinfo):
    cpuinfo(AVX2_CPU)
    native, why = perf.cpu_bf16_native()
    assert not native and why.startswith("no avx512_bf16/amx_bf16 flag")


def test_unreadable_cpuinfo_counts_as_no_bf16(tmp_path, monkeypatch):
    monkeypatch.setattr(perf, "CPUINFO", tmp_path / "missing")
    assert perf.cpu_flags() == set()
    assert perf.cpu_bf16_native()[0] is False


def test_bf16_on_cpu_without_native_support_is_refused(cpuinfo):
    cpuinfo(AVX2_CPU)
    with pytest.raises(InputError, match=r"train\.amp.*without native bf16.*6–10× slower"):
        perf.autocast(cfg_with(amp="bf16"), "cpu")


def test_bf16_on_cpu_with_native_support_autocasts_matmuls(cpuinfo):
    cpuinfo(AMX_CPU)
    a = torch.ones(2, 3)
    with perf.autocast(cfg_with(amp="bf16"), "cpu"):
        assert torch.is_autocast_enabled("cpu")
        assert (a @ a.T).dtype == torch.bfloat16
    assert (a @ a.T).dtype == torch.float32


def test_off_is_a_null_context():
    a = torch.ones(2, 3)
    with perf.autocast(cfg_with(amp="off"), "cpu"):
        assert not torch.is_autocast_enabled("cpu")
        assert (a @ a.T).dtype == torch.float32


def test_fp16_only_on_cuda_and_unknown_modes_refused():
    with pytest.raises(InputError, match="fp16.*CUDA"):
        perf.autocast(cfg_with(amp="fp16"), "cpu")
    with pytest.raises(InputError, match="'off', 'bf16', 'fp16'"):
        perf.check_amp(cfg_with(amp="float8"), "cpu")


def test_grad_scaler_enabled_for_fp16_only():
    assert not perf.grad_scaler(cfg_with(amp="off"), "cpu").is_enabled()


def _tiny_model():
    from hmr_bench.models.multiroi import build_model

    torch.manual_seed(0)
    return build_model(backbone="cnn-tiny", num_rois=2, fc1_dim=32).eval()


def _inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 2, 3, 48, 36, generator=g), torch.randn(2, 2, 3, generator=g)


def test_channels_last_changes_layout_not_results():
    crops, info = _inputs()
    ref_model = _tiny_model()
    with torch.no_grad():
        ref = ref_model(crops, info)
    model = perf.prepare_model(_tiny_model(), cfg_with(channels_last=True), "cpu")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    with torch.no_grad():
        feats = model.backbone.forward_features(crops.reshape(4, 3, 48, 36))
        out = model(crops, info)
    assert feats.is_contiguous(memory_format=torch.channels_last) and not feats.is_contiguous()
    torch.testing.assert_close(out.rotmat, ref.rotmat, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.cam, ref.cam, rtol=1e-4, atol=1e-5)


def test_compile_in_place_keeps_state_dict_and_outputs():
    crops, info = _inputs()
    ref_model = _tiny_model()
    keys = list(ref_model.state_dict())
    with torch.no_grad():
        ref = ref_model(crops, info)
    model = perf.prepare_model(_tiny_model(), cfg_with(compile=True), "cpu", compile_backend="eager")
    assert type(model).__name__ == "MultiRoIModel" and list(model.state_dict()) == keys
    assert "forward_features" in vars(model.backbone)  # the shared-backbone path is compiled too
    torch._dynamo.reset()
    with torch.no_grad():
        out = model(crops, info)
    torch.testing.assert_close(out.betas, ref.betas)
    torch._dynamo.reset()


def test_prepare_model_checks_amp_first():
    with pytest.raises(InputError, match="fp16"):
        perf.prepare_model(_tiny_model(), cfg_with(amp="fp16"), "cpu")


def test_threads_set_and_restored():
    before = torch.get_num_threads()
    with perf.threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    previous = perf.set_threads(None)
    try:
        assert previous == before and torch.get_num_threads() == perf.available_cores()
    finally:
        torch.set_num_threads(before)
    with pytest.raises(InputError, match="threads"):
        perf.set_threads(0)
