"""Sweep configs: valid files parse to the series, probes and executor they describe; every
problem in a bad file is one line naming the key."""

import pytest

from tracker.runner.config import ConfigError, load_config
from tracker.runner.spec import SeriesSpec


def _write(tmp_path, text):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def test_family_of_sizes_and_seeds_expands_with_paths_relative_to_the_config(tmp_path):
    config = load_config(_write(tmp_path, """
[store]
dir = "stores"
[[series]]
hub = "EleutherAI/pythia-{size}-seed{seed}"
sizes = ["70m", "160m"]
seeds = [1, 2]
cache_dir = "cache"
[[series]]
folder = "runs/live"
pattern = "ckpt_*"
tokens_per_step = 1024
store = "elsewhere/live.h5"
[steps]
list = [0, 512, 1000]
[probes]
names = ["induction"]
[probes.config.induction]
n_seqs = 80
[executor]
kind = "ray"
address = "auto"
gpus_per_task = 1
[disk]
evict = true
"""))
    names = [s.name for s in config.series]
    assert names == ["pythia-70m-seed1", "pythia-70m-seed2", "pythia-160m-seed1",
                     "pythia-160m-seed2", "live"]
    first = config.series[0]
    assert first == SeriesSpec(name="pythia-70m-seed1", kind="hub",
                               location="EleutherAI/pythia-70m-seed1",
                               store=tmp_path / "stores" / "pythia-70m-seed1.h5",
                               cache_dir=str(tmp_path / "cache"))
    live = config.series[-1]
    assert (live.kind, live.location, live.pattern, live.tokens_per_step, live.store) == (
        "folder", str(tmp_path / "runs/live"), "ckpt_*", 1024, tmp_path / "elsewhere/live.h5")
    assert config.steps == "0,512,1000"
    assert config.probe_set().configs == (("induction", '{"n_seqs": 80}'),)
    assert [p.config.n_seqs for p in config.probe_set().build()] == [80]
    assert (config.executor.kind, config.executor.address, config.executor.gpus_per_task) == (
        "ray", "auto", 1)
    assert config.evict is True and config.detect is True


def test_every_problem_is_one_line_naming_its_key(tmp_path):
    path = _write(tmp_path, """
[[series]]
hub = "x/y-{size}"
revisions = "step1"
[[series]]
folder = "a"
hub = "b"
[steps]
list = [0, 8, 8]
[probes]
names = ["inductoin"]
[probes.config.induction]
n_seq = 80
[executor]
kind = "spark"
workers = "two"
dtype = "float8"
[wandb]
mode = "loud"
[lock]
stale_after = -1
[colour]
x = 1
""")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    keys = [line.split(": ")[1] for line in lines]
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert keys == ["colour", "series[0].hub", "series[0].revisions", "series[0].store",
                    "series[1]", "steps.list", "probes.names", "probes.config.induction.n_seq",
                    "wandb.mode", "executor.kind", "executor.dtype", "executor.workers",
                    "lock.stale_after"]
    assert "step 8 is listed twice" in lines[5]
    assert "unknown probe 'inductoin'" in lines[6] and "induction" in lines[6]


@pytest.mark.parametrize("text, key, words", [
    ("[steps]\nlist = [0, 8, 4]", "steps.list", "steps must increase: 4 comes after 8"),
    ("[steps]\nselect = \"log:x\"", "steps.select", "expected an integer"),
    ("[steps]\nselect = \"log:3\"\nlist = [1]", "steps", "not both"),
    ("[probes]\nnames = [\"induction\"]\n[probes.config.induction]\nn_seqs = \"many\"",
     "probes.config.induction.n_seqs", "expected int like the default"),
    ("[[series]]\nhub = \"a/c\"\nsizes = [\"1m\"]", "series[1].sizes", "no {size} placeholder"),
    ("[executor]\ndevice = \"tpu\"", "executor.device", "auto, cpu, cuda"),
])
def test_single_problems(tmp_path, text, key, words):
    path = _write(tmp_path, f'[store]\ndir = "s"\n[[series]]\nhub = "a/b"\n{text}\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"{path}: {key}: ") and words in message


def test_unreadable_and_non_toml_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the sweep config"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[[series]\nhub ="))
    with pytest.raises(ConfigError, match="series: missing"):
        load_config(_write(tmp_path, "[store]\ndir = 's'\n"))


def test_two_series_cannot_share_a_store(tmp_path):
    with pytest.raises(ConfigError, match="share the store"):
        load_config(_write(tmp_path, '[store]\ndir = "s"\n[[series]]\nhub = "a/m"\n'
                                     '[[series]]\nfolder = "b/m"\n'))


def test_two_series_cannot_share_a_name(tmp_path):
    with pytest.raises(ConfigError, match="two series are named 'm'"):
        load_config(_write(tmp_path, '[[series]]\nhub = "a/m"\nstore = "x.h5"\n'
                                     '[[series]]\nfolder = "b/m"\nstore = "y.h5"\n'))
