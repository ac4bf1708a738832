"""The benchmark scripts: they run end to end, refuse stale runs, and every suite is well formed."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import compare_samplers, reproduce  # noqa: E402


def test_steps_to_reach_interpolates_and_reports_never():
    steps = np.asarray([100.0, 200.0, 300.0])
    psnr = np.asarray([10.0, 20.0, 30.0])
    assert compare_samplers.steps_to_reach(steps, psnr, 15.0) == pytest.approx(150.0)
    assert compare_samplers.steps_to_reach(steps, psnr, 5.0) == 100.0
    assert compare_samplers.steps_to_reach(steps, psnr, 30.0) == pytest.approx(300.0)
    assert compare_samplers.steps_to_reach(steps, psnr, 31.0) == float("inf")


def test_eval_records_keep_the_comparisons_grid():
    """A run resumed from a finer evaluation grid, and a re-evaluated last step, still give the
    comparison's grid, once per step, in order."""
    records = [{"step": s, "eval_psnr": float(s)} for s in (500, 1000, 1500, 2000)]
    records += [{"step": 2000, "loss": 0.1}, {"step": 3000, "eval_psnr": 30.0},
                {"step": 3500, "eval_psnr": 35.0}, {"step": 3500, "eval_psnr": 35.5}]
    kept = compare_samplers.eval_records(records, eval_every=1000, num_steps=3500)
    assert [r["step"] for r in kept] == [1000, 2000, 3000, 3500]
    assert kept[-1]["eval_psnr"] == 35.5


def test_compare_samplers_end_to_end_results_page_and_stale_runs(tmp_path, monkeypatch, capsys):
    from experiments import write_results_page

    monkeypatch.chdir(ROOT)
    out = tmp_path / "cmp"
    argv = ["--gin_configs", "gin_configs/image/default.gin",
            "--gin_bindings", "image_fitting_task.max_side = 64",
            "--samplers", "uniform",
            "--variant", "soft_a0.3=soft_mining:WeightSchedule.alpha=0.3",
            "--seeds", "0,1", "--num_steps", "40", "--eval_every", "10",
            "--timing_rounds", "2", "--timing_steps", "3", "--outdir", str(out)]
    assert compare_samplers.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    summary = results["summary"]
    assert list(summary["samplers"]) == ["uniform", "soft_a0.3"]
    assert summary["steps"] == [0, 10, 20, 30, 40]
    uniform = summary["samplers"]["uniform"]
    assert uniform["step_ratio"] == pytest.approx(1.0)
    assert uniform["time_ratio"] == pytest.approx(1.0)
    for s in summary["samplers"].values():
        assert len(s["psnr_mean"]) == 5 and len(s["step_ratio_per_seed"]) == 2
        assert s["time_per_step_s"] > 0 and set(s["speedup_at_milestones"]) == {"10", "20", "40"}
        assert all(np.isfinite(s["psnr_mean"]))
    # Every run logged its own evaluations (the table is computed from them, not typed in).
    for label in summary["samplers"]:
        for seed in (0, 1):
            records = results["runs"][label][str(seed)]
            assert [r["step"] for r in records] == [0, 10, 20, 30, 40]
    table = (out / "results.md").read_text()
    assert "| soft_a0.3 |" in table and "speed-up @10/20/40" in table
    for plot in ("psnr_vs_steps.png", "psnr_vs_seconds.png"):
        assert (out / plot).stat().st_size > 1000
    # The results page is written from these files (a suite pointing at this folder).
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "cmp.json").write_text(json.dumps({
        "about": "a test comparison", "script": "compare_samplers", "config": ["x = 1"],
        "args": []}))
    monkeypatch.setattr(reproduce, "SUITES_DIR", suites)
    page = tmp_path / "docs" / "results.md"
    assert write_results_page.main(["--results", str(tmp_path), "--out", str(page),
                                    "--readme", ""]) == 0
    text = page.read_text()
    assert "### a test comparison (suite `cmp`)" in text
    assert "| soft_a0.3 |" in text and "`python experiments/reproduce.py cmp`" in text
    assert f"code {results['code']}" in text
    # The summary can be recomputed from the recorded runs alone.
    before = json.loads((out / "results.json").read_text())["summary"]
    assert compare_samplers.main(["--summarise_only", "--outdir", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["summary"] == before
    # ... and read against another recorded label (a control), printed only.
    files = {f: (out / f).read_text() for f in ("results.json", "results.md")}
    assert compare_samplers.main(
        ["--summarise_only", "--outdir", str(out), "--baseline", "soft_a0.3"]) == 0
    against = capsys.readouterr().out
    assert "Target: soft_a0.3's final eval PSNR" in against
    assert "| soft_a0.3 |" in against and "| uniform |" in against
    assert {f: (out / f).read_text() for f in files} == files
    with pytest.raises(SystemExit, match="not a label"):
        compare_samplers.main(["--summarise_only", "--outdir", str(out), "--baseline", "nope"])
    with pytest.raises(SystemExit):
        compare_samplers.main([*argv, "--baseline", "uniform"])
    # A second invocation must not silently reuse the finished runs.
    with pytest.raises(SystemExit, match="--resume"):
        compare_samplers.main(argv)
    assert compare_samplers.main([*argv, "--resume", "--timing_rounds", "0"]) == 0
    one_seed = [*argv[: argv.index("--seeds")], "--seeds", "0", *argv[argv.index("--seeds") + 2:]]
    assert compare_samplers.main([*one_seed, "--fresh", "--timing_rounds", "0"]) == 0
    # A budget comparison: trained for half the steps, against the (now one-seed) comparison's
    # uniform.
    half = [*one_seed[: one_seed.index("--num_steps")], "--num_steps", "20",
            *one_seed[one_seed.index("--num_steps") + 2:]]
    half[half.index("--outdir") + 1] = str(tmp_path / "half")
    with pytest.raises(SystemExit, match="no results.json"):
        compare_samplers.main([*half, "--reference", str(tmp_path / "missing")])
    assert compare_samplers.main([*half, "--reference", str(out), "--timing_rounds", "0"]) == 0
    budget = json.loads((tmp_path / "half" / "results.json").read_text())["summary"]
    reference = budget["reference"]
    assert reference["num_steps"] == 40 and set(reference["per_seed"]) == {"0"}
    assert reference["target_psnr"] == pytest.approx(json.loads(
        (out / "results.json").read_text())["runs"]["uniform"]["0"][-1]["eval_psnr"])
    for s in budget["samplers"].values():
        ratio = s["reference_ratio"]
        assert ratio == 0.0 or ratio >= 2.0  # it reaches the target within its 20 steps, or never
        assert len(s["reference_ratio_per_seed"]) == 1
    assert "Against a reference" in (tmp_path / "half" / "results.md").read_text()


def test_interleaved_timing_charges_the_dense_refresh(tmp_path, monkeypatch):
    """A dense error-map sampler's per-step time includes its refresh, divided by its interval,
    even when a round has fewer steps than the interval (here 3 steps, a refresh every 10)."""
    monkeypatch.chdir(ROOT)
    args = compare_samplers.build_parser().parse_args([
        "--gin_configs", "gin_configs/image/default.gin",
        "--gin_bindings", "image_fitting_task.max_side = 64",
        "--num_steps", "40", "--timing_rounds", "2", "--timing_steps", "3",
        "--outdir", str(tmp_path)])
    variants = [compare_samplers.parse_variant(v) for v in (
        "uniform", "dense=error_map:DenseRefresh.every=10")]
    timing = compare_samplers.time_steps(args, variants)
    assert "refresh_median_s" not in timing["uniform"]
    refresh = timing["dense"]["refresh_median_s"]
    # Two rounds: the median is the mean, so it holds the mean refresh / 10 on top of the steps.
    assert refresh > 0 and timing["dense"]["median_s"] >= refresh / 10


SUITE_NAMES = sorted(p.stem for p in reproduce.SUITES_DIR.glob("*.json")
                     if "suites" not in json.loads(p.read_text()))
GROUP_NAMES = sorted(p.stem for p in reproduce.SUITES_DIR.glob("*.json")
                     if "suites" in json.loads(p.read_text()))


@pytest.mark.parametrize("name", GROUP_NAMES)
def test_every_group_runs_its_member_suites_in_order(name, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    group = reproduce.load_suite(name, group=True)
    assert reproduce.main([name, "--dry_run"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if "--outdir" in line]
    assert [line.split("--outdir experiments/results/")[1].split()[0] for line in printed] == \
        group["suites"]


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_every_suite_file_runs_existing_samplers_and_binds_only_existing_parameters(
        name, capsys, tmp_path, monkeypatch):
    """Each suite file parses, its frozen task config and every variant's sampler config and
    bindings parse together (unknown names fail here, not an hour into a benchmark), and its
    command line is what reproduce.py prints."""
    import gin

    from softmining_jax import cli

    monkeypatch.chdir(ROOT)
    suite = reproduce.load_suite(name)
    assert suite["about"] and suite["config"]
    script, argv, _ = reproduce.command(name, [])
    parser = (compare_samplers.build_parser() if script == "compare_samplers"
              else __import__("experiments.benchmarks.photos", fromlist=["x"]).build_parser())
    args = parser.parse_args(argv)
    specs = [v for v in args.samplers.split(",") if v] + list(args.variant)
    labels = [compare_samplers.parse_variant(v)[0] for v in specs]
    assert labels[0].startswith("uniform") and len(set(labels)) == len(labels)
    config = tmp_path / "suite.gin"
    config.write_text("\n".join(suite["config"]) + "\n")
    for spec in specs:
        _, sampler_gin, extra = compare_samplers.parse_variant(spec)
        cli.parse_gin([str(config), sampler_gin], [*args.gin_bindings, *extra])
        gin.get_configurable("train_and_evaluate")  # registered
    gin.clear_config()
    assert reproduce.main([name, "--dry_run"]) == 0
    assert f"--outdir experiments/results/{name}" in capsys.readouterr().out


def test_reproduce_refuses_an_unknown_or_malformed_suite(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="no suite named"):
        reproduce.main(["no_such_suite", "--dry_run"])
    monkeypatch.setattr(reproduce, "SUITES_DIR", tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps({"about": "x", "script": "make"}))
    with pytest.raises(SystemExit, match="needs the fields"):
        reproduce.main(["bad", "--dry_run"])


def test_photo_benchmark_dry_run_prints_one_table_and_resumes(tmp_path, capsys, monkeypatch):
    from experiments import write_results_page
    from experiments.benchmarks import photos

    out = tmp_path / "photos"
    samplers = ["--samplers", "uniform,pixel_error_map,official"]
    assert photos.main(["--outdir", str(out), "--dry_run", *samplers]) == 0
    text = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labels"] == ["uniform", "pixel_error_map", "official"]
    assert len(summary["images"]) == 2 and "**minimum**" in text and "**mean**" in text
    for row in summary["images"].values():
        assert row["samplers"]["uniform"]["step_ratio"] == pytest.approx(1.0)
        assert 0.1 <= row["baseline_top10_error_share"] <= 1.0
        assert row["samplers"]["pixel_error_map"]["min_speedup"] is not None
    # A second call reads the finished comparisons back instead of training again.
    assert photos.main(["--outdir", str(out), "--dry_run", *samplers]) == 0
    assert "[run" not in capsys.readouterr().out
    # --retime measures the timing again and rewrites the summaries, keeping the runs.
    first = out / "images" / next(iter(summary["images"])) / "results.json"
    before = json.loads(first.read_text())
    assert photos.main(["--outdir", str(out), "--dry_run", *samplers, "--retime"]) == 0
    assert "[run" not in capsys.readouterr().out
    after = json.loads(first.read_text())
    assert after["runs"] == before["runs"] and after["retimed"]["timing_rounds"] == 1
    assert after["timing"] != before["timing"]
    assert after["summary"]["samplers"]["official"]["time_ratio"] == pytest.approx(
        after["timing"]["official"]["ratio_median"])
    with pytest.raises(SystemExit, match="not found"):
        photos.image_paths("no_such_image")
    # The results page: one table of samplers, the default per image.
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "photos.json").write_text(json.dumps({
        "about": "photos", "script": "photos", "config": ["x = 1"], "args": []}))
    (suites / "methods.json").write_text(json.dumps({
        "about": "methods", "suites": ["photos", "nerf"], "claims": {"pixel_error_map": {
            "paper": "a 100x speed-up", "wall_clock_speedup": 100.0, "members": ["photos"],
            "differences": "m.py"}}}))
    (suites / "nerf.json").write_text(json.dumps({
        "about": "nerf", "script": "compare_samplers", "config": ["x = 1"], "args": []}))
    monkeypatch.setattr(reproduce, "SUITES_DIR", suites)
    page = tmp_path / "docs" / "results.md"
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- headline:start -->\nold\n<!-- headline:end -->\nrest\n")
    (tmp_path / "photos_cpu").symlink_to(out)  # the README reads the suite of that name
    assert write_results_page.main(["--results", str(tmp_path), "--out", str(page),
                                    "--readme", str(readme)]) == 0
    text = page.read_text()
    assert "### Photographs (2 images; suite `photos`)" in text
    group = text.split("(group `methods`)")[1]  # methods as rows, one column per member run
    assert "not run: `nerf`" in group and "| pixel_error_map | " in group
    assert "- `photos` (2 images (" in group and "most steps saved by `" in group
    assert "| pixel_error_map | " in group and " dB; " in group.split("| pixel_error_map | ")[1]
    assert "- `pixel_error_map`: the paper reports a 100x speed-up (>= 100.00x" in group
    assert "not reproduced (short by" in group
    assert "Not run yet (no results here): `nerf`." in text
    table = readme.read_text()
    assert "old" not in table and "2 Kodak crops (mean)" in table and table.endswith("rest\n")
    photo_section = text.split("### Photographs")[1]
    assert photo_section.count("| uniform |") == 1 and "| pixel_error_map |" in photo_section
    # Per image, every further sampler's final PSNR beside the default's, and how they compare.
    assert "| top-10% | official (dB) |" in photo_section
    assert "- `pixel_error_map` ends at or above `official` on " in photo_section
    assert len(text.splitlines()) < 150


def test_share_line_fits_the_kodak_crops_and_places_the_others():
    from experiments import write_results_page

    def row(share, step):
        return {"baseline_top10_error_share": share, "samplers": {"d": {"step_ratio": step}}}

    rows = {"kodim01": row(0.5, 1.5), "kodim02": row(0.6, 1.7), "kodim03": row(0.7, 1.9),
            "pluto": row(0.8, 1.2)}
    (_, line) = write_results_page.share_line(rows, "d")
    assert "over the 3 Kodak crops" in line and "Pearson r = 1.00" in line
    assert "step ratio = 0.50 + 2.00 x share" in line
    assert "pluto (share 0.80: 1.20x, the line says 2.10x)" in line
    assert write_results_page.share_line({"kodim01": row(0.5, 1.5)}, "d") == []


def test_gpu_check_dry_run_writes_its_report(tmp_path):
    """The GPU check's whole pipeline on the CPU (a procedural scene, a one-second budget)."""
    from experiments import gpu_check

    assert gpu_check.main(["--dry_run", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(results["samplers"]) == {"uniform", "soft_mining"}
    for run in results["samplers"].values():
        assert run["steps"] > 1 and run["ms_per_step"] > 0 and run["rays_per_s"] > 0
        assert len(run["curve"]) >= 2 and all(np.isfinite(p["psnr"]) for p in run["curve"])
    assert results["dense"]["seconds_per_view"] > 0
    assert "Dense error-map render" in (tmp_path / "gpu_check.md").read_text()
    assert gpu_check.seconds_to([{"train_s": 0, "psnr": 10}, {"train_s": 10, "psnr": 20}],
                                15) == pytest.approx(5.0)


def test_bench_step_dry_run_times_framework_and_bare_steps(tmp_path):
    from experiments import bench_step

    out = tmp_path / "bench.json"
    assert bench_step.main(["--dry_run", "--dense", "--hash_backward", "--out", str(out)]) == 0
    bench = json.loads(out.read_text())
    (row,) = bench["grid"]
    assert set(row["ms"]) == {"framework uniform", "bare uniform", "framework soft", "bare soft"}
    assert row["uniform"]["median"] > 0 and row["soft"]["median"] > 0
    for kind in ("uniform", "soft"):  # the hash grid's two backward passes, image path only
        hb = bench["hash_backward"]["paths"]["image b256"][kind]
        assert set(hb["ms"]) == {"autodiff", "custom_vjp"}
        assert hb["autodiff_over_custom_vjp"]["median"] > 0
    from experiments import write_results_page

    section = "\n".join(write_results_page.bench_step_section(out))
    assert "| 256 | 2^12 |" in section and "dense per-pixel L1 render" in section
    assert "image b256 (2^12) soft" in section


def test_results_page_compares_checkouts(tmp_path):
    from experiments import write_results_page

    def run(name, uniform, soft, dense, code):
        (tmp_path / f"{name}.json").write_text(json.dumps({
            "code": code, "nerf_chair_cpu_ms": {"uniform": uniform, "soft_mining": soft},
            "dense": {"dense_render_s": dense, "pixels": 10}}))

    run("abc1234_default_0", 300.0, 320.0, 0.6, "abc1234")
    run("abc1234_default_1", 280.0, 300.0, 0.7, "abc1234")
    run("abc1234_reuse_0", 240.0, 260.0, 0.4, "abc1234")
    run("this_default_0", 150.0, 160.0, 0.3, "def5678")
    run("this_reuse_0", 145.0, 155.0, 0.2, "def5678")
    section = "\n".join(write_results_page.bench_checkouts_section(tmp_path))
    assert "| abc1234 | defaults | 2 | 290.0 (280.0-300.0) | 310.0 (300.0-320.0) |" in section
    assert ("(older: defaults; this: reused): uniform 2.00x, soft mining 2.00x, dense 3.25x"
            in section)
    assert "both with the setting: uniform 1.66x" in section
    assert "(the code alone): uniform 1.93x" in section


def test_strongest_uniform_becomes_the_baseline(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "cmp"
    argv = ["--gin_configs", "gin_configs/image/default.gin",
            "--gin_bindings", "image_fitting_task.max_side = 48",
            "--samplers", "uniform,soft_mining",
            "--variant", "uniform_slow=uniform:adam.learning_rate=1e-4",
            "--seeds", "0", "--num_steps", "20", "--eval_every", "10",
            "--timing_rounds", "2", "--timing_steps", "2", "--outdir", str(out),
            "--strongest_uniform"]
    assert compare_samplers.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    summary, runs = results["summary"], results["runs"]
    finals = {lab: runs[lab]["0"][-1]["eval_psnr"] for lab in ("uniform", "uniform_slow")}
    assert summary["baseline"] == max(finals, key=finals.get)
    base = summary["samplers"][summary["baseline"]]
    assert base["step_ratio"] == pytest.approx(1.0) and base["time_ratio"] == pytest.approx(1.0)
    assert summary["baseline_spec"].startswith("uniform.gin")
    before = summary
    assert compare_samplers.main(["--summarise_only", "--outdir", str(out)]) == 0
    assert json.loads((out / "results.json").read_text())["summary"] == before
