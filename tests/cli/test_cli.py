import subprocess
import sys

import h5py
import pytest
from transformers import GPTJConfig, GPTJForCausalLM

from tests.support.builders import (
    PYTHIA_REPO,
    build_pythia_cache,
    build_suite_cache,
    tiny_tokenizer,
)
from tracker.cli.main import main
from tracker.sources import list_cached_refs
from tracker.sources.hf_cache import repo_folder
from tracker.store import SeriesStore
from tracker.store.layout import SCHEMA_VERSION


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(err):
    lines = [line for line in err.splitlines() if line.startswith("tracker: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture()
def swept(tmp_path, pythia_cache, capsys):
    store = tmp_path / "s.h5"
    code, out, _ = _run(capsys, "sweep", PYTHIA_REPO, "--cache-dir", str(pythia_cache),
                        "--store", str(store), "--steps", "first:3", "--no-progress",
                        "--probes", "induction")
    assert code == 0 and "computed 3 probe results at 3 steps" in out
    return store


def test_show_and_validate(swept, capsys):
    code, out, _ = _run(capsys, "show", str(swept))
    assert code == 0
    assert "series    EleutherAI/pythia-tiny" in out
    assert "steps     3 checkpoints, 0 .. 2" in out
    assert "induction_score" in out and "3x2x4" in out
    code, out, _ = _run(capsys, "validate", str(swept))
    assert code == 0 and out.strip().endswith("valid")


def test_probes_lists_descriptions(capsys):
    code, out, _ = _run(capsys, "probes")
    assert code == 0 and "induction" in out and "v" in out


def test_unknown_probe(swept, pythia_cache, capsys):
    before = swept.read_bytes()
    code, _, err = _run(capsys, "sweep", PYTHIA_REPO, "--cache-dir", str(pythia_cache),
                        "--store", str(swept), "--probes", "inductoin")
    assert code == 1 and "unknown probe 'inductoin'" in _error_line(err)
    assert swept.read_bytes() == before


def test_missing_step(swept, pythia_cache, capsys):
    code, _, err = _run(capsys, "sweep", PYTHIA_REPO, "--cache-dir", str(pythia_cache),
                        "--store", str(swept), "--steps", "0,3")
    assert code == 1 and "step 3 is not in the series" in _error_line(err)


def test_missing_revision_file(tmp_path, capsys):
    cache = build_pythia_cache(tmp_path / "c", [0, 1, 2])
    store = tmp_path / "s.h5"
    assert _run(capsys, "sweep", PYTHIA_REPO, "--cache-dir", str(cache), "--store", str(store),
                "--steps", "0,1", "--no-progress", "--probes", "induction")[0] == 0
    before = SeriesStore(store).metric("induction", "induction_score").copy()
    commit = list_cached_refs(cache, PYTHIA_REPO)["step2"]
    (repo_folder(cache, PYTHIA_REPO) / "snapshots" / commit / "model.safetensors").unlink()
    code, _, err = _run(capsys, "sweep", PYTHIA_REPO, "--cache-dir", str(cache),
                        "--store", str(store), "--no-progress", "--probes", "induction")
    assert code == 1 and "EleutherAI/pythia-tiny@step2: cannot load weights" in _error_line(err)
    # Everything stored before is still there and readable.
    view = SeriesStore(store)
    assert view.steps.tolist() == [0, 1]
    assert (view.metric("induction", "induction_score") == before).all()


def test_corrupt_weights(tmp_path, capsys):
    cache = build_pythia_cache(tmp_path / "c", [0, 1])
    commit = list_cached_refs(cache, PYTHIA_REPO)["step1"]
    link = repo_folder(cache, PYTHIA_REPO) / "snapshots" / commit / "model.safetensors"
    blob = link.resolve()
    blob.unlink()
    blob.write_bytes(b"\x00" * 64)
    code, _, err = _run(capsys, "sweep", PYTHIA_REPO, "--cache-dir", str(cache),
                        "--store", str(tmp_path / "s.h5"), "--no-progress",
                        "--probes", "induction")
    assert code == 1 and "pythia-tiny@step1: cannot load weights" in _error_line(err)


def test_unsupported_architecture(tmp_path, capsys):
    folder = tmp_path / "gptjrun"
    config = GPTJConfig(n_layer=1, n_embd=16, n_head=2, rotary_dim=4, vocab_size=64)
    GPTJForCausalLM(config).save_pretrained(folder / "step10")
    tiny_tokenizer().save_pretrained(folder / "step10")
    code, _, err = _run(capsys, "sweep", str(folder), "--store", str(tmp_path / "s.h5"),
                        "--no-progress", "--probes", "induction")
    assert code == 1
    assert "gptjrun@step10: unsupported architecture 'gptj'" in _error_line(err)


def test_sweep_a_llama_run_named_by_a_user_pattern(tmp_path, capsys):
    cache = build_suite_cache(tmp_path / "hub", "me/llama-run", "llama",
                              ["main", "run-10-5M", "run-20-10M"])
    store = tmp_path / "s.h5"
    code, out, _ = _run(capsys, "sweep", "me/llama-run", "--cache-dir", str(cache),
                        "--store", str(store), "--no-progress", "--probes", "induction",
                        "--revisions", r"run-(?P<step>\d+)-(?P<tokens>\d+M)")
    assert code == 0 and "computed 2 probe results at 2 steps" in out
    view = SeriesStore(store)
    assert view.steps.tolist() == [10, 20] and view.tokens.tolist() == [5 * 10**6, 10**7]
    code, _, err = _run(capsys, "sweep", "me/llama-run", "--cache-dir", str(cache),
                        "--store", str(store), "--revisions", r"run-(\d+)")
    assert code == 1 and "no (?P<step>...) group" in _error_line(err)


def test_newer_schema_store_is_refused_untouched(swept, pythia_cache, capsys):
    with h5py.File(swept, "a") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 5
    before = swept.read_bytes()
    code, _, err = _run(capsys, "show", str(swept))
    assert code == 1 and "newer than this tracker" in _error_line(err)
    code, _, err = _run(capsys, "sweep", PYTHIA_REPO, "--cache-dir", str(pythia_cache),
                        "--store", str(swept), "--steps", "first:4", "--no-progress",
                        "--probes", "induction")
    assert code == 1 and "newer than this tracker" in _error_line(err)
    assert swept.read_bytes() == before


def test_bad_probe_config_field(tmp_path, pythia_cache, capsys):
    code, _, err = _run(capsys, "sweep", PYTHIA_REPO, "--cache-dir", str(pythia_cache),
                        "--store", str(tmp_path / "s.h5"), "--probe-config", "induction.nope=1")
    assert code == 1 and "probe 'induction' has no field 'nope'" in _error_line(err)


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tracker.cli.main", "show",
                           str(tmp_path / "none.h5")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"tracker: error: {tmp_path / 'none.h5'}: no such store"
